"""Coverage as Prometheus metrics: what the service records per event, and the report reading it back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest, start_http_server

from consumer.model import EventSource, Stage
from consumer.observability.coverage import UNKNOWN, CoverageTally, record_failure, record_unparseable
from consumer.observability.metrics import CONSENT_DROPPED, REGISTRY
from consumer.report.coverage import Coverage
from consumer.report.scrape import ScrapeError, add_metrics, fetch_metrics
from tests.unit.coverage_factories import failure, outbound, withheld


@pytest.fixture
def route() -> str:
    """A route name no other test uses: the metrics are process-wide."""
    return f"route-{uuid.uuid4().hex[:8]}"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_coverage_counts_the_event_and_its_identifiers(route: str) -> None:
    """One event: its origin and source on the event counter, and one increment per identifier it carries; the
    tally adds them to the counters when flushed (once per poll-loop turn), and each count only once."""
    tally = CoverageTally()
    tally.add(outbound("email", "ip", route=route, origin="derived", source=EventSource.WEB))
    tally.add(outbound("email", route=route))
    labels = {"route": route, "event": "Purchase"}
    events = "tiktok_relay_coverage_events_total"
    assert sample("tiktok_relay_identifier_present_total", **labels, identifier="email") == 0
    tally.flush()
    tally.flush()
    assert sample(events, **labels, event_source="web", event_id_origin="derived") == 1
    assert sample(events, **labels, event_source="web", event_id_origin="record") == 1
    assert sample("tiktok_relay_identifier_present_total", **labels, identifier="email") == 2
    assert sample("tiktok_relay_identifier_present_total", **labels, identifier="ip") == 1
    assert sample("tiktok_relay_identifier_present_total", **labels, identifier="phone") == 0


def test_record_failure_names_unknown_parts(route: str) -> None:
    """A failure before mapping has no event name: it is labelled (unknown); the route falls back to the
    Failure's."""
    record_failure(None, None, failure(Stage.DECODE, "decode_malformed", route=route))
    assert (
        sample(
            "tiktok_relay_coverage_failures_total",
            route=route,
            event=UNKNOWN,
            stage="decode",
            reason="decode_malformed",
        )
        == 1
    )


def test_metrics_read_back_match_the_accumulator(route: str) -> None:
    """Recording through the metrics and reading the exposition back gives the same row as the accumulator fed
    with the same outcomes."""
    direct = Coverage()
    events = [outbound("email", "phone", route=route), outbound("ip", route=route, origin="derived")]
    tally = CoverageTally()
    for event in events:
        tally.add(event)
        direct.observe_outbound(event)
    tally.flush()
    CONSENT_DROPPED.labels(route, "Purchase").inc()
    direct.observe_withheld(withheld(route=route))
    for stage, reason in ((Stage.POLICY, "event_too_old"), (Stage.SEND, "tiktok_rejected")):
        record_failure(route, "Purchase", failure(stage, reason))
        direct.observe_failure(route, "Purchase", failure(stage, reason))
    record_unparseable(route, "Purchase", "phone")
    direct.observe_unparseable(route, "Purchase", "phone")

    scraped = Coverage()
    add_metrics(scraped, generate_latest(REGISTRY).decode())
    assert scraped.row(route, "Purchase").to_json() == direct.row(route, "Purchase").to_json()


@pytest.fixture
def metrics_url() -> Iterator[str]:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=REGISTRY)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_fetch_metrics_reads_a_live_endpoint(metrics_url: str, route: str) -> None:
    """The report reads a real /metrics endpoint over HTTP."""
    tally = CoverageTally()
    tally.add(outbound("email", route=route))
    tally.flush()
    coverage = Coverage()
    add_metrics(coverage, fetch_metrics(metrics_url))
    assert coverage.row(route, "Purchase").identifiers["email"] == 1


def test_fetch_metrics_rejects_other_schemes() -> None:
    """Only http(s) URLs are fetched (no file:// reads through the report)."""
    with pytest.raises(ScrapeError, match="http or https"):
        fetch_metrics("file:///etc/passwd")


def test_fetch_metrics_reports_an_unreachable_endpoint() -> None:
    """A closed port is a ScrapeError naming the URL."""
    with pytest.raises(ScrapeError, match=r"http://127\.0\.0\.1:9/metrics"):
        fetch_metrics("http://127.0.0.1:9/metrics", timeout_s=2)
