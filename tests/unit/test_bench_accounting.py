"""The fault suite's ledger (bench.accounting): produced ids joined with delivered, dead-lettered and audited."""

from __future__ import annotations

from bench.accounting import account


def test_every_id_settled_once_is_not_lost() -> None:
    """Ids split across the three destinations, each once: nothing lost, no duplicates."""
    result = account("ok", ["a", "b", "c"], ["a"], ["b"], ["c"])
    assert (result.delivered, result.dead_lettered, result.audited) == (1, 1, 1)
    assert (result.lost, result.duplicates) == (0, 0)


def test_unsettled_id_is_lost() -> None:
    """A produced id found nowhere counts as lost."""
    result = account("gap", ["a", "b"], ["a"], [], [])
    assert result.lost == 1
    assert not result.ok


def test_redelivery_counts_as_duplicate_not_extra_delivery() -> None:
    """The same id received twice by the sandbox is one delivered event and one duplicate."""
    result = account("replay", ["a"], ["a", "a"], [], [])
    assert (result.delivered, result.duplicates, result.lost) == (1, 1, 0)


def test_deduplicated_repeats_count_as_duplicates() -> None:
    """Repeats the sandbox deduplicated (and so does not list) are added to the duplicates."""
    result = account("dedup", ["a"], ["a"], [], [], redelivered=3)
    assert (result.delivered, result.duplicates) == (1, 3)


def test_id_in_two_destinations_counts_as_duplicate() -> None:
    """An event both delivered and dead-lettered is settled, with one duplicate record."""
    result = account("both", ["a"], ["a"], ["a"], [])
    assert (result.duplicates, result.lost) == (1, 0)


def test_id_never_produced_is_foreign() -> None:
    """An id that arrives but was never produced is reported as foreign and fails the scenario."""
    result = account("stray", ["a"], ["a", "z"], [], [])
    assert result.foreign == 1
    assert not result.ok


def test_pii_in_request_bodies_fails_the_scenario() -> None:
    """Email or phone patterns the sandbox saw in request bodies fail a scenario even when nothing was lost."""
    result = account("leak", ["a"], ["a"], [], [], pii_hits=2)
    assert not result.ok
    assert "pii_hits=2" in result.line().split()


def test_line_names_every_count() -> None:
    """The printed line carries produced, delivered, dead-lettered, audited, duplicates, lost and PII hits."""
    line = account("kill", ["a", "b"], ["a"], ["b"], []).line()
    assert line.split()[0] == "kill"
    assert line.split()[1:] == [
        "produced=2",
        "delivered=1",
        "dead_lettered=1",
        "audited=0",
        "duplicates=0",
        "lost=0",
        "pii_hits=0",
    ]
