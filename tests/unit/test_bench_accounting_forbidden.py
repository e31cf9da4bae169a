"""The fault suite's ledger for events that must never reach TikTok (a withdrawn subject's): found there = leaked."""

from __future__ import annotations

from bench.accounting import account


def test_a_forbidden_id_at_tiktok_is_leaked_and_fails_the_scenario() -> None:
    result = account("w", ["a", "b", "c"], ["a", "b"], [], ["c"], forbidden=["b", "c"])
    assert (result.withdrawn, result.leaked) == (2, 1)
    assert not result.ok
    assert "withdrawn=2 leaked=1" in result.line()


def test_forbidden_ids_audited_instead_are_fine() -> None:
    result = account("w", ["a", "b"], ["a"], [], ["b"], forbidden=["b"])
    assert (result.withdrawn, result.leaked, result.lost) == (1, 0, 0)
    assert result.ok


def test_scenarios_without_forbidden_ids_print_no_withdrawal_counts() -> None:
    assert "withdrawn" not in account("plain", ["a"], ["a"], [], []).line()
