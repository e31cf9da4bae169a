"""`tiktok-relay report` without Kafka: the time window it reads, and a report from a live /metrics endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client import start_http_server

from consumer.cli import main as cli_main
from consumer.observability.coverage import CoverageTally
from consumer.observability.metrics import REGISTRY
from consumer.report.window import Window, WindowError, parse_time
from tests.unit.coverage_factories import outbound

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"


def test_durations_count_back_from_now() -> None:
    """90m, 24h, 7d and 2w are that long before now."""
    assert parse_time("90m", NOW) == NOW - timedelta(minutes=90)
    assert parse_time("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_time("7d", NOW) == NOW - timedelta(days=7)
    assert parse_time("2w", NOW) == NOW - timedelta(weeks=2)


def test_iso_times_are_utc_unless_they_say_otherwise() -> None:
    """A time without an offset is UTC; a Z or an offset is honoured."""
    assert parse_time("2025-04-30T08:00:00", NOW) == datetime(2025, 4, 30, 8, tzinfo=UTC)
    assert parse_time("2025-04-30T08:00:00Z", NOW) == datetime(2025, 4, 30, 8, tzinfo=UTC)
    assert parse_time("2025-04-30T10:00:00+02:00", NOW) == datetime(
        2025, 4, 30, 10, tzinfo=timezone(timedelta(hours=2))
    )


def test_unreadable_time_names_the_accepted_forms() -> None:
    """Text that is neither form is an error that says what is accepted."""
    with pytest.raises(WindowError, match="duration like 24h"):
        parse_time("yesterday", NOW)


def test_window_ends_now_by_default() -> None:
    """--since 1h without --until is the last hour, in Unix milliseconds."""
    window = Window.parse("1h", None, NOW)
    assert window.end_ms == int(NOW.timestamp() * 1000)
    assert window.end_ms - window.start_ms == 3_600_000


def test_window_that_ends_before_it_starts_is_an_error() -> None:
    """--since after --until is refused."""
    with pytest.raises(WindowError, match="before it starts"):
        Window.parse("1h", "2h", NOW)


def test_bad_since_exits_2_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    """A window that cannot be read exits 2 and names the bad value, before any broker is contacted."""
    assert cli_main(["report", "--config", str(EXAMPLE_CONFIG), "--since", "soon"]) == 2
    assert "'soon' is neither an ISO 8601 time nor a duration" in capsys.readouterr().err


@pytest.fixture
def metrics_url() -> Iterator[str]:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=REGISTRY)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_report_from_metrics_prints_the_route_row(metrics_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--metrics-url reads the service's counters: the route's row appears with its shares."""
    route = f"route-{uuid.uuid4().hex[:8]}"
    tally = CoverageTally()
    for identifiers in (("email", "phone"), ("email",)):
        tally.add(outbound(*identifiers, route=route))
    tally.flush()
    assert cli_main(["report", "--metrics-url", metrics_url, "--json"]) == 0
    rows = {row["route"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows[route]["identifier_shares"]["phone"] == 0.5
    assert rows[route]["sent"] == 2
