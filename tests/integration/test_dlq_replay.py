"""`tiktok-relay dlq replay` on dead-letter topics the relay service filled with real failures (dlq_incident): after
the cause is fixed, the right records are replayed once, to the source topic or straight to the sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bench.stack import SandboxProcess
from consumer.deadletter.record import CONNECT_PREFIX
from consumer.model import SourceRef
from tests.integration.conftest import Outcomes, RelaySetup, RelaySetupFactory, consume_all
from tests.integration.dlq_incident import (
    BAD_BYTES,
    LEADS,
    MAPPING,
    OLD,
    ORDERS,
    OUTAGE,
    REJECTED,
    RELAY_OVERRIDES,
    Incident,
    audit_records,
    broken_config,
    committed_offsets,
    end_offsets,
    fill_incident,
    json_lines,
    run_cli,
    source_ref,
    start_relay,
)

OutcomesFactory = Callable[[RelaySetup], Outcomes]
COUNTER = "tiktok.relay.replay.count"
WEEK_MS = 7 * 86_400_000


@pytest.fixture
def incident(relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory) -> Incident:
    return fill_incident(relay_setup(partitions=2, **RELAY_OVERRIDES), sandbox, outcomes_of)


@pytest.fixture(autouse=True)
def access_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Direct replays read the token as the service does (the sandbox accepts any)."""
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", "test-token")


def replay(incident: Incident, source: str, *args: str) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """Run a replay of ``source``'s dead-letter topic with JSON output: exit code, record reports, summary."""
    code, out = run_cli(
        "dlq", "replay", "--config", str(incident.config), "--topic", incident.dlq(source), "--json", *args
    )
    lines = json_lines(out)
    return code, lines[:-1], lines[-1]


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


# -- selection ----------------------------------------------------------------------------------------------------


def refs_at(incident: Incident, keep: Callable[[SourceRef], bool]) -> set[SourceRef]:
    return {ref for ref in incident.refs(REJECTED, OLD, BAD_BYTES, OUTAGE) if keep(ref)}


FILTERS: list[tuple[str, Callable[[Incident], list[str]], Callable[[Incident], set[SourceRef]]]] = [
    ("reason", lambda i: ["--reason", "tiktok_rejected"], lambda i: i.refs(REJECTED)),
    ("route", lambda i: ["--route", "lead-submitted"], lambda i: i.refs(REJECTED, OLD, OUTAGE)),
    ("tiktok code", lambda i: ["--code", "40002"], lambda i: i.refs(REJECTED)),
    ("source partition", lambda i: ["--source-partition", "1"], lambda i: refs_at(i, lambda r: r.partition == 1)),
    (
        "source offsets",
        lambda i: ["--source-offset-from", "2", "--source-offset-to", "4"],
        lambda i: refs_at(i, lambda r: 2 <= r.offset <= 4),
    ),
    ("failed since", lambda i: ["--since", str(i.phase2_ms)], lambda i: i.refs(OUTAGE)),
    ("failed until", lambda i: ["--until", str(i.phase2_ms)], lambda i: i.refs(REJECTED, OLD, BAD_BYTES)),
    ("event time", lambda i: ["--event-until", str(i.phase2_ms - WEEK_MS)], lambda i: i.refs(OLD)),
]


@pytest.mark.parametrize(("name", "args", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_each_filter_selects_exactly_what_it_names(
    incident: Incident,
    name: str,
    args: Callable[[Incident], list[str]],
    expected: Callable[[Incident], set[SourceRef]],
) -> None:
    """A dry run with one filter reports exactly the dead-letter records that filter names, and no other."""
    code, reports, summary = replay(incident, LEADS, "--to", "source", "--dry-run", *args(incident))

    assert code == 0
    assert {source_ref(report) for report in reports} == expected(incident)
    # The summary counts only outcomes that happened: keys hash all 11 records to one partition now and then.
    assert summary["counts"].get("not_selected", 0) == 11 - len(expected(incident))


# -- dry run ------------------------------------------------------------------------------------------------------


def test_a_dry_run_changes_nothing(incident: Incident) -> None:
    """Dry runs to the source topic and to TikTok produce nothing, send nothing, commit no position and write no
    audit record; the direct one previews the re-mapped payload with the original event_id."""
    bootstrap = incident.setup.bootstrap_servers
    topics = [incident.setup.topic(t) for t in (ORDERS, LEADS)] + [incident.dlq(t) for t in (ORDERS, LEADS)]
    ends = {topic: end_offsets(bootstrap, topic) for topic in topics}
    delivered = incident.sandbox.event_ids()

    _, _, to_source = replay(incident, LEADS, "--to", "source", "--dry-run")
    _, previews, to_tiktok = replay(incident, ORDERS, "--to", "tiktok", "--dry-run", "--previews", "6")

    assert {r["outcome"] for r in previews} == {"would_replay"}
    assert {r["preview"]["data"][0]["event_id"] for r in previews} == incident.event_ids(MAPPING)
    assert previews[0]["preview"]["data"][0]["user"]["email"] == "[redacted]"
    assert {topic: end_offsets(bootstrap, topic) for topic in topics} == ends
    assert incident.sandbox.event_ids() == delivered
    for summary, dlq in ((to_source, incident.dlq(LEADS)), (to_tiktok, incident.dlq(ORDERS))):
        assert committed_offsets(bootstrap, summary["group"], dlq) == {}
        assert audit_records(bootstrap, summary["replay_id"]) == []


# -- replays ------------------------------------------------------------------------------------------------------


def test_replay_to_tiktok_after_the_outage_delivers_with_the_original_event_ids(incident: Incident) -> None:
    """Records dead-lettered by the outage go straight to the (recovered) sandbox under their own event_id, and the
    run writes its audit record."""
    code, reports, summary = replay(incident, LEADS, "--to", "tiktok", "--reason", "retry_budget_exhausted")

    assert code == 0
    assert summary["counts"] == {"replayed": 4, "not_selected": 7}
    assert {r["event_id"] for r in reports} == incident.event_ids(OUTAGE)
    assert incident.event_ids(OUTAGE) <= incident.sandbox.event_ids()
    [audit] = audit_records(incident.setup.bootstrap_servers, summary["replay_id"])
    assert audit["counts"] == {"replayed": 4, "not_selected": 7}
    assert (audit["filters"], audit["to"], audit["status"]) == (
        {"reasons": ["retry_budget_exhausted"]},
        "tiktok",
        "completed",
    )
    assert audit["operator"] and audit["started_at"] <= audit["finished_at"]


def test_replay_to_source_after_the_mapping_fix_is_delivered_by_the_service(incident: Incident) -> None:
    """With the fixed mapping deployed, records replayed to the source topic carry their original key, value and
    headers plus a replay counter (no dead-letter context), and the service delivers them under their event_id."""
    setup = incident.setup
    start_relay(setup, incident.config)
    orders = setup.topic(ORDERS)
    before = end_offsets(setup.bootstrap_servers, orders)

    code, _, summary = replay(incident, ORDERS, "--to", "source", "--reason", "mapping_error")

    assert (code, summary["counts"]) == (0, {"replayed": 6})
    wait_for(lambda: incident.event_ids(MAPPING) <= incident.sandbox.event_ids(), "the replayed orders")
    messages = consume_all(setup.bootstrap_servers, orders, expected=12)
    originals = {m.key(): m for m in messages if (m.offset() or 0) < before[m.partition() or 0]}
    replayed = [m for m in messages if (m.offset() or 0) >= before[m.partition() or 0]]
    assert len(replayed) == 6
    for message in replayed:
        original = originals[message.key()]
        headers = message.headers() or []
        assert (message.value(), message.partition()) == (original.value(), original.partition())
        assert headers == [*(original.headers() or []), (COUNTER, b"1")]
        assert not [name for name, _ in headers if name.startswith(CONNECT_PREFIX)]


def test_a_second_run_of_the_same_replay_replays_nothing(incident: Incident) -> None:
    """The first run commits its position; the same replay run again finds nothing left to replay."""
    first = replay(incident, LEADS, "--to", "tiktok", "--code", "40002")
    second = replay(incident, LEADS, "--to", "tiktok", "--code", "40002")

    assert first[2]["counts"]["replayed"] == 3
    assert incident.event_ids(REJECTED) <= incident.sandbox.event_ids()
    assert (second[0], second[1], second[2]["counts"], second[2]["scanned"]) == (0, [], {}, 0)
    assert second[2]["replay_id"] == first[2]["replay_id"]


def test_the_loop_guard_refuses_records_that_keep_failing(incident: Incident) -> None:
    """Replayed to a service that still runs the bad mapping, the records come back to the dead-letter topic with
    their replay counter; the next run of the replay refuses them instead of looping."""
    setup = incident.setup
    start_relay(setup, broken_config(setup))
    orders, dlq = setup.topic(ORDERS), incident.dlq(ORDERS)

    _, _, first = replay(incident, ORDERS, "--to", "source", "--max-replays", "1")
    wait_for(lambda: sum(end_offsets(setup.bootstrap_servers, dlq).values()) == 12, "the records to fail again")
    source_end = end_offsets(setup.bootstrap_servers, orders)
    code, reports, second = replay(incident, ORDERS, "--to", "source", "--max-replays", "1")

    assert first["counts"] == {"replayed": 6}
    assert (code, second["counts"]) == (0, {"refused_loop_guard": 6})
    assert {(r["replay_count"], r["reason"]) for r in reports} == {(1, "mapping_error")}
    assert end_offsets(setup.bootstrap_servers, orders) == source_end


def test_events_past_the_age_window_are_reported_and_skipped(incident: Incident) -> None:
    """Events older than policy.max_event_age are reported as skipped and not re-produced."""
    leads = incident.setup.topic(LEADS)
    before = end_offsets(incident.setup.bootstrap_servers, leads)

    code, reports, summary = replay(incident, LEADS, "--to", "source", "--reason", "event_too_old")

    assert (code, summary["counts"]) == (0, {"skipped_too_old": 2, "not_selected": 9})
    assert {source_ref(r) for r in reports} == incident.refs(OLD)
    assert end_offsets(incident.setup.bootstrap_servers, leads) == before


def test_force_age_replays_events_past_the_age_window(incident: Incident) -> None:
    """With --force-age a direct replay sends the old events anyway, under their original event_id."""
    code, _, summary = replay(incident, LEADS, "--to", "tiktok", "--reason", "event_too_old", "--force-age")

    assert (code, summary["counts"]) == (0, {"replayed": 2, "not_selected": 9})
    assert incident.event_ids(OLD) <= incident.sandbox.event_ids()


def test_a_limited_run_stops_and_the_next_run_goes_on_from_there(incident: Incident) -> None:
    """--limit 1 replays one record and commits just past it; the same replay run again replays the rest."""
    first = replay(incident, LEADS, "--to", "tiktok", "--reason", "retry_budget_exhausted", "--limit", "1")
    second = replay(incident, LEADS, "--to", "tiktok", "--reason", "retry_budget_exhausted")

    assert (first[0], first[2]["status"], first[2]["counts"]["replayed"]) == (0, "limit_reached", 1)
    assert second[2]["counts"]["replayed"] == 3
    assert {r["event_id"] for r in first[1] + second[1]} == incident.event_ids(OUTAGE)


def test_overlapping_replays_send_each_dead_letter_once(incident: Incident) -> None:
    """A replay by reason, then one by route that also selects those records: the second skips what the first
    replayed (the replay record), so TikTok receives each of them once; `dlq inspect` counts replayed and
    not-yet-replayed records; `--again` replays them on purpose."""
    first = replay(incident, LEADS, "--to", "tiktok", "--reason", "retry_budget_exhausted")
    duplicates = incident.sandbox.counts()["duplicates"]
    second = replay(incident, LEADS, "--to", "tiktok", "--route", "lead-submitted")

    assert first[2]["counts"]["replayed"] == 4
    assert second[2]["counts"] == {
        "replayed": 3,
        "skipped_already_replayed": 4,
        "skipped_too_old": 2,
        "not_selected": 2,
    }
    assert {r["event_id"] for r in second[1] if r["outcome"] == "replayed"} == incident.event_ids(REJECTED)
    assert incident.sandbox.counts()["duplicates"] == duplicates

    code, out = run_cli("dlq", "inspect", "--config", str(incident.config), "--topic", incident.dlq(LEADS), "--json")
    [inspection] = json_lines(out)
    assert (code, inspection["records"], inspection["replayed"], inspection["not_replayed"]) == (0, 11, 7, 4)

    again = replay(incident, LEADS, "--to", "tiktok", "--route", "lead-submitted", "--again")
    assert again[2]["counts"]["replayed"] == 7
    assert again[2]["again"] is True
    assert incident.sandbox.counts()["duplicates"] == duplicates + 7
