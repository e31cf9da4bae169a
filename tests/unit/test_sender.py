"""The sender against the sandbox over loopback HTTP: batching, delivery, retries, isolation, budget, close."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from consumer.model import (
    DeadLettered,
    Delivered,
    Destination,
    EventSource,
    OutboundEvent,
    SourceRef,
    Stage,
    TikTokEvent,
)
from consumer.observability.metrics import REGISTRY
from consumer.sandbox.server import TRACK_PATH, Sandbox
from consumer.sandbox.settings import FaultSettings, Outage, SandboxSettings, ScriptedResponse
from consumer.sending.job import GIVEN_UP
from consumer.sending.sender import Reported, Sender, SendOutcome
from consumer.sending.settings import TikTokSettings
from consumer.sending.tokens import TokenStore

TOKEN = "tok"
TOKENS = TokenStore(SecretStr(TOKEN))
FAST: dict[str, Any] = {
    "allow_custom_endpoint": True,  # the sandbox on loopback
    "linger_ms": 5,
    "retry_base_ms": 1,
    "retry_max_backoff_s": 0.01,
    "auth_fault_retry_s": 0.01,
    "request_timeout_s": 5,
    "close_timeout_s": 5,
}


def outbound(
    index: int,
    *,
    source_id: str = "PIX1",
    source: EventSource = EventSource.WEB,
    test_event_code: str | None = None,
    event_id: str | None = None,
    lead: dict[str, str] | None = None,
    properties: dict[str, Any] | None = None,
    partition: int = 0,
) -> OutboundEvent:
    event = TikTokEvent(
        "Purchase", 1_700_000_000, event_id or f"e{index}", properties=properties or {"value": 1.5}, lead=lead
    )
    return OutboundEvent(
        SourceRef("orders", partition, index),
        "orders",
        Destination(source, source_id, test_event_code),
        event,
        "record",
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def settle(futures: Iterable[Awaitable[SendOutcome]]) -> list[SendOutcome]:
    return await asyncio.wait_for(asyncio.gather(*futures), timeout=30)


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (a test fails by pytest-timeout, not by a timing assertion)."""
    while not condition():
        await asyncio.sleep(0.005)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxSettings(tokens={TOKEN: []}, seed=7)) as running:
        yield running


@asynccontextmanager
async def running_sender(
    endpoint: str, tokens: TokenStore = TOKENS, rand: Callable[[], float] | None = None, **settings: Any
) -> AsyncIterator[Sender]:
    options: dict[str, Any] = {} if rand is None else {"rand": rand}
    sender = Sender(TikTokSettings(endpoint=endpoint, **{**FAST, **settings}), tokens, **options)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.close()


def delivered(outcomes: list[SendOutcome]) -> list[Delivered]:
    return [outcome for outcome in outcomes if isinstance(outcome, Delivered)]


def dead_lettered(outcomes: list[SendOutcome]) -> list[DeadLettered]:
    return [outcome for outcome in outcomes if isinstance(outcome, DeadLettered)]


# -- delivery and batching -------------------------------------------------------------------------------------------


async def test_every_event_is_delivered_with_its_ref(sandbox: Sandbox) -> None:
    """Each future resolves to Delivered for its own source ref, with TikTok's code and request_id."""
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(50)])
    assert [outcome.ref.offset for outcome in delivered(outcomes)] == list(range(50))
    assert all(isinstance(o, Delivered) and o.tiktok_code == 0 and o.request_id for o in outcomes)
    assert len(sandbox.store.event_ids("PIX1")) == 50


async def test_batches_hold_at_most_max_batch_events(sandbox: Sandbox) -> None:
    """2500 events submitted at once go out as 1000 + 1000 + 500."""
    async with running_sender(sandbox.track_url) as sender:
        await settle([sender.submit(outbound(i)) for i in range(2500)])
    assert sandbox.store.counts()["requests"] == 3


async def test_small_batch_limit_is_respected(sandbox: Sandbox) -> None:
    """max_batch_events below TikTok's 1000 is honoured."""
    async with running_sender(sandbox.track_url, max_batch_events=10) as sender:
        await settle([sender.submit(outbound(i)) for i in range(95)])
    assert sandbox.store.counts()["requests"] == 10


async def test_request_bodies_stay_under_the_byte_cap(sandbox: Sandbox) -> None:
    """No body exceeds max_batch_bytes, envelope included; the events still all arrive."""
    padding = {"value": 1.5, "description": "x" * 200}
    async with running_sender(sandbox.track_url, max_batch_bytes=10_000) as sender:
        await settle([sender.submit(outbound(i, properties=padding)) for i in range(200)])
    counts = sandbox.store.counts()
    assert counts["largest_request_bytes"] <= 10_000
    assert counts["requests"] > 1
    assert counts["accepted"] == 200


async def test_destinations_never_share_a_request(sandbox: Sandbox) -> None:
    """Events for different pixels or test codes travel in separate requests with their own envelope."""
    destinations = [("PIX1", None), ("PIX2", None), ("PIX1", "TEST9")]
    async with running_sender(sandbox.track_url) as sender:
        await settle(
            [sender.submit(outbound(i, source_id=d[0], test_event_code=d[1])) for i, d in enumerate(destinations * 5)]
        )
    assert sandbox.store.counts()["requests"] == 3
    recorded = {(e["event_source_id"], e["test_event_code"], e["event"]["event_id"]) for e in sandbox.store.events()}
    expected = {(d[0], d[1], f"e{i}") for i, d in enumerate(destinations * 5)}
    assert recorded == expected


async def test_test_event_code_from_settings_is_sent(sandbox: Sandbox) -> None:
    """tiktok.test_event_code reaches TikTok at the top level of every request."""
    async with running_sender(sandbox.track_url, test_event_code="TEST42") as sender:
        await settle([sender.submit(outbound(i)) for i in range(3)])
    assert {event["test_event_code"] for event in sandbox.store.events()} == {"TEST42"}
    assert sandbox.store.counts()["test_events"] == 3


async def test_lingering_batch_is_sent_without_a_flush(sandbox: Sandbox) -> None:
    """A batch below every cap goes out once it has lingered."""
    async with running_sender(sandbox.track_url, linger_ms=20) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(3)])
    assert len(delivered(outcomes)) == 3


async def test_flush_sends_lingering_events_now(sandbox: Sandbox) -> None:
    """With an hour of linger, flush() is what sends the batch."""
    async with running_sender(sandbox.track_url, linger_ms=3_600_000) as sender:
        futures = [sender.submit(outbound(i)) for i in range(3)]
        assert sender.pending == 3
        await sender.flush()
        outcomes = await settle(futures)
        assert sender.pending == 0
    assert len(delivered(outcomes)) == 3


async def test_partial_success_counts_as_delivered(sandbox: Sandbox) -> None:
    """Code 20001 settles the events as delivered, carrying the code."""
    sandbox.set_faults(FaultSettings(error_rate=1.0, error_code=20001))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(4)])
    assert {(type(o), getattr(o, "tiktok_code", None)) for o in outcomes} == {(Delivered, 20001)}


async def test_duplicated_request_counts_as_delivered(sandbox: Sandbox) -> None:
    """Code 40050 (TikTok saw this very request before) settles the events as delivered, not retried."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=40050)]))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(4)])
    assert {(type(o), getattr(o, "tiktok_code", None)) for o in outcomes} == {(Delivered, 40050)}
    assert sandbox.store.counts()["requests"] == 1


async def test_unencodable_event_is_dead_lettered_at_once(sandbox: Sandbox) -> None:
    """A value JSON cannot carry fails that event alone, before it can spoil a batch."""
    async with running_sender(sandbox.track_url) as sender:
        future = sender.submit(outbound(1, properties={"tags": {"a-set"}}))
        assert future.done()
        outcome = future.result()
    assert isinstance(outcome, DeadLettered)
    assert (outcome.failure.stage, outcome.failure.reason) == (Stage.SEND, "encoding_error")


# -- transient failures ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (40100, "rate_limited"),
        (40132, "qps_limited"),
        (40133, "qps_limited"),
        (50000, "server_error"),
        (50002, "server_error"),
        (51012, "server_error"),
        (60001, "server_error"),
        (61000, "rate_limited"),
    ],
)
async def test_transient_body_codes_are_retried(sandbox: Sandbox, code: int, cause: str) -> None:
    """Throttles and TikTok server errors are retried; the events are then delivered."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=code)]))
    before = metric("tiktok_relay_retries_total", cause=cause)
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(5)])
    assert len(delivered(outcomes)) == 5
    assert sandbox.store.counts()["responses"] == {str(code): 1, "0": 1}
    assert metric("tiktok_relay_retries_total", cause=cause) == before + 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_gateway_errors_are_retried(sandbox: Sandbox, status: int) -> None:
    """HTTP 5xx with an HTML body is retried, then delivered."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(http_status=status)]))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(5)])
    assert len(delivered(outcomes)) == 5
    assert sandbox.store.counts()["responses"] == {f"http_{status}": 1, "0": 1}


async def test_timeouts_are_retried(sandbox: Sandbox) -> None:
    """A request that never answers times out and is sent again."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(hang=True)]))
    before = metric("tiktok_relay_retries_total", cause="timeout")
    async with running_sender(sandbox.track_url, request_timeout_s=0.3) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(3)])
    assert len(delivered(outcomes)) == 3
    assert metric("tiktok_relay_retries_total", cause="timeout") == before + 1


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{TRACK_PATH}"


async def test_connection_errors_are_retried_until_the_attempt_budget() -> None:
    """A refused connection is transient; after retry_max_attempts the events are permanent failures."""
    async with running_sender(closed_port_url(), retry_max_attempts=3) as sender:
        (outcome,) = await settle([sender.submit(outbound(1))])
    assert isinstance(outcome, DeadLettered)
    failure = outcome.failure
    assert (failure.reason, failure.attempts, failure.http_status, failure.tiktok_code) == (
        "retry_budget_exhausted",
        3,
        None,
        None,
    )
    assert "connection" in failure.message


async def test_exhausted_budget_reports_tiktoks_last_answer(sandbox: Sandbox) -> None:
    """The dead-letter context carries the last code, message, request_id, HTTP status and the attempt count."""
    sandbox.set_faults(FaultSettings(error_rate=1.0, error_code=50000))
    async with running_sender(sandbox.track_url, retry_max_attempts=4) as sender:
        (outcome,) = await settle([sender.submit(outbound(1))])
    assert isinstance(outcome, DeadLettered)
    failure = outcome.failure
    assert (failure.stage, failure.reason, failure.exception_class) == (
        Stage.SEND,
        "retry_budget_exhausted",
        "RetryBudgetExhaustedError",
    )
    assert (failure.tiktok_code, failure.http_status, failure.attempts, failure.route) == (50000, 200, 4, "orders")
    assert failure.tiktok_message == "Internal service error."
    assert failure.request_id
    assert failure.first_failure_ms is not None
    assert failure.last_failure_ms is not None
    assert failure.first_failure_ms <= failure.last_failure_ms


async def test_time_budget_ends_retries(sandbox: Sandbox) -> None:
    """With no attempt limit, retry_max_elapsed_s alone ends the retries."""
    sandbox.set_faults(FaultSettings(error_rate=1.0, error_code=60001))
    async with running_sender(sandbox.track_url, retry_max_attempts=None, retry_max_elapsed_s=0.05) as sender:
        (outcome,) = await settle([sender.submit(outbound(1))])
    assert isinstance(outcome, DeadLettered)
    assert outcome.failure.reason == "retry_budget_exhausted"


async def test_retry_after_header_is_honoured(sandbox: Sandbox) -> None:
    """A Retry-After of an hour keeps the sender from retrying at its millisecond backoff."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(http_status=503, retry_after="3600")]))
    async with running_sender(sandbox.track_url, close_timeout_s=0, retry_max_backoff_s=3600) as sender:
        future = sender.submit(outbound(1))
        await eventually(lambda: sandbox.store.counts()["requests"] == 1)
        await asyncio.sleep(0.3)
        assert sandbox.store.counts()["requests"] == 1
        assert not future.done()


async def test_retry_after_is_capped_by_the_retry_budget(sandbox: Sandbox) -> None:
    """A proxy's Retry-After of a day cannot outwait the retry time budget: the events reach their final outcome
    when the budget ends, not a day later."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(http_status=503, retry_after="86400")] * 2))
    async with running_sender(
        sandbox.track_url, retry_max_backoff_s=86_400, retry_max_elapsed_s=0.2, retry_max_attempts=None
    ) as sender:
        (outcome,) = await settle([sender.submit(outbound(1))])
    assert isinstance(outcome, DeadLettered)
    assert outcome.failure.reason == "retry_budget_exhausted"


async def test_40100_storm_is_ridden_out_with_backoff(sandbox: Sandbox) -> None:
    """During a 40100 storm each batch backs off exponentially: few retries per batch, then all is delivered."""
    sandbox.set_faults(FaultSettings(outages=[Outage(duration_s=0.5, code=40100)]))
    batches = 20
    async with running_sender(
        sandbox.track_url, max_batch_events=5, retry_base_ms=20, retry_max_backoff_s=0.2
    ) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(batches * 5)])
    assert len(delivered(outcomes)) == batches * 5
    throttled = sandbox.store.counts()["responses"]["40100"]
    assert 1 <= throttled <= batches * 20  # without backoff it would be hundreds per batch


async def test_rate_cap_keeps_the_sender_under_tiktoks_limit() -> None:
    """With the sender capped below the sandbox's per-second limit, no request is throttled."""
    async with Sandbox(SandboxSettings(rate_limit_rps=40)) as limited:
        async with running_sender(
            limited.track_url, max_batch_events=1, max_requests_per_second=20, rate_burst=1
        ) as sender:
            outcomes = await settle([sender.submit(outbound(i)) for i in range(30)])
        assert len(delivered(outcomes)) == 30
        assert "40100" not in limited.store.counts()["responses"]


async def test_requests_in_flight_are_bounded(sandbox: Sandbox) -> None:
    """With simulated latency, no more than max_in_flight requests reach the server at once."""
    sandbox.set_faults(FaultSettings(latency_ms=50))
    async with running_sender(sandbox.track_url, max_batch_events=1, max_in_flight=3) as sender:
        await settle([sender.submit(outbound(i)) for i in range(20)])
    assert sandbox.store.counts()["peak_in_flight"] == 3


# -- isolation of rejected events ------------------------------------------------------------------------------------


async def test_one_bad_event_does_not_sink_its_batch(sandbox: Sandbox) -> None:
    """The rejected batch is split until the offender is alone; the other 99 events are delivered."""
    sandbox.set_faults(FaultSettings(reject_event_ids=["e37"]))
    splits = metric("tiktok_relay_batch_splits_total")
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(100)])
    assert len(delivered(outcomes)) == 99
    (rejected,) = dead_lettered(outcomes)
    assert rejected.ref.offset == 37
    failure = rejected.failure
    assert (failure.reason, failure.tiktok_code, failure.http_status) == ("tiktok_rejected", 40002, 200)
    assert failure.tiktok_message == "Invalid value for data[0].event_id: rejected by the sandbox."
    assert failure.request_id
    assert len(sandbox.store.event_ids("PIX1")) == 99
    # one split per level down to e37: 100 -> 50 -> 25 -> 13 -> 6 -> 3 -> 1
    assert metric("tiktok_relay_batch_splits_total") - splits == 6


async def test_several_bad_events_are_each_isolated(sandbox: Sandbox) -> None:
    """Each offender is found; everything else is delivered."""
    sandbox.set_faults(FaultSettings(reject_event_ids=["e0", "e50", "e99"]))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(100)])
    assert sorted(o.ref.offset for o in dead_lettered(outcomes)) == [0, 50, 99]
    assert len(delivered(outcomes)) == 97


async def test_invalid_crm_event_is_isolated(sandbox: Sandbox) -> None:
    """A crm event without lead.lead_id is the one TikTok rejects; the valid crm events get through."""
    events = [outbound(i, source=EventSource.CRM, source_id="SET1", lead={"lead_id": f"L{i}"}) for i in range(9)]
    events.append(outbound(9, source=EventSource.CRM, source_id="SET1"))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(event) for event in events])
    (rejected,) = dead_lettered(outcomes)
    assert rejected.ref.offset == 9
    assert "lead.lead_id" in (rejected.failure.tiktok_message or "")


async def test_too_large_request_is_split() -> None:
    """HTTP 413 isolates like a content rejection: halves small enough are delivered."""
    async with Sandbox(SandboxSettings(max_body_bytes=2048)) as small:
        async with running_sender(small.track_url, max_batch_bytes=10_000) as sender:
            outcomes = await settle([sender.submit(outbound(i)) for i in range(100)])
        assert len(delivered(outcomes)) == 100
        assert small.store.counts()["responses"]["http_413"] >= 1


async def test_invalid_batch_size_is_split(sandbox: Sandbox) -> None:
    """40061 (invalid batch size) splits the request; the halves are delivered."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=40061)]))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(10)])
    assert len(delivered(outcomes)) == 10
    assert sandbox.store.counts()["responses"] == {"40061": 1, "0": 2}


async def test_unhashed_pii_rejection_is_isolated_and_counted(sandbox: Sandbox) -> None:
    """40062 (PII not hashed) isolates the offending event like 40002 and counts it for an alert."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=40062), ScriptedResponse(code=0)] * 1))
    before = metric("tiktok_relay_unhashed_pii_rejections_total")
    async with running_sender(sandbox.track_url, max_batch_events=1) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(2)])
    (rejected,) = dead_lettered(outcomes)
    assert (rejected.failure.reason, rejected.failure.tiktok_code) == ("tiktok_rejected", 40062)
    assert len(delivered(outcomes)) == 1
    assert metric("tiktok_relay_unhashed_pii_rejections_total") == before + 1


async def test_tiktok_message_is_masked_in_the_dead_letter(sandbox: Sandbox) -> None:
    """An e-mail address echoed in TikTok's message never reaches the dead-letter context."""
    sandbox.set_faults(
        FaultSettings(script=[ScriptedResponse(code=40002, message="Invalid value for email: alice@example.com")])
    )
    async with running_sender(sandbox.track_url) as sender:
        (outcome,) = await settle([sender.submit(outbound(1))])
    assert isinstance(outcome, DeadLettered)
    assert "alice@example.com" not in (outcome.failure.tiktok_message or "") + outcome.failure.message
    assert "[redacted]" in (outcome.failure.tiktok_message or "")


async def test_unfixable_http_4xx_fails_the_batch(sandbox: Sandbox) -> None:
    """A 4xx that neither retrying nor splitting can fix fails every event of the request at once."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(http_status=410)]))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(4)])
    assert {(o.failure.reason, o.failure.http_status) for o in dead_lettered(outcomes)} == {("tiktok_rejected", 410)}
    assert sandbox.store.counts()["requests"] == 1


# -- configuration faults: hold, never dead-letter -------------------------------------------------------------------


@pytest.mark.parametrize("code", [40001, 40102, 40104, 40105, 40063])
async def test_auth_faults_hold_then_deliver(sandbox: Sandbox, code: int) -> None:
    """Token and permission errors hold the events and retry; once TikTok accepts, they are delivered."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=code)] * 3))
    async with running_sender(sandbox.track_url) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(5)])
        assert sender.ready
    assert len(delivered(outcomes)) == 5
    assert sandbox.store.counts()["responses"] == {str(code): 3, "0": 1}


async def test_rejected_token_holds_and_reports_not_ready() -> None:
    """A token TikTok refuses keeps the events pending (not dead-lettered) and the sender not ready."""
    async with (
        Sandbox(SandboxSettings(tokens={"the-right-one": []})) as strict,
        running_sender(strict.track_url, TokenStore(SecretStr("wrong")), close_timeout_s=0) as sender,
    ):
        futures = [sender.submit(outbound(i)) for i in range(5)]
        await eventually(lambda: strict.store.counts()["responses"].get("40105", 0) >= 3)
        assert not sender.ready
        assert metric("tiktok_relay_auth_fault") == 1
        assert sender.pending == 5
        assert not any(future.done() for future in futures)


async def test_close_cancels_held_events_predictably() -> None:
    """On close, held futures are cancelled (never resolved), so their offsets stay uncommitted for replay."""
    async with Sandbox(SandboxSettings(tokens={"the-right-one": []})) as strict:
        sender = Sender(TikTokSettings(endpoint=strict.track_url, **{**FAST, "close_timeout_s": 0.05}), TOKENS)
        await sender.start()
        futures = [sender.submit(outbound(i)) for i in range(5)]
        await eventually(lambda: not sender.ready and sender.pending == 5)
        await sender.close()
    assert all(future.cancelled() for future in futures)
    assert sender.pending == 0


async def test_permission_fault_holds_only_its_event_source() -> None:
    """40001 for one pixel holds that pixel's events; another pixel's events are delivered meanwhile."""
    async with (
        Sandbox(SandboxSettings(tokens={TOKEN: ["PIX1"]})) as scoped,
        running_sender(scoped.track_url, close_timeout_s=0) as sender,
    ):
        allowed = [sender.submit(outbound(i)) for i in range(3)]
        held = [sender.submit(outbound(10 + i, source_id="PIX2")) for i in range(3)]
        assert len(delivered(await settle(allowed))) == 3
        await eventually(lambda: not sender.ready)
        assert not any(future.done() for future in held)


async def test_failing_destination_is_dead_lettered_while_others_deliver() -> None:
    """A pixel still refused after destination_fault_after_s, while another pixel is delivered, is dead-lettered
    under its own reason with TikTok's answer, so its events stop holding every partition's watermark."""
    async with (
        Sandbox(SandboxSettings(tokens={TOKEN: ["PIX1"]})) as scoped,
        running_sender(scoped.track_url, destination_fault_after_s=0.05) as sender,
    ):
        refused = [sender.submit(outbound(10 + i, source_id="PIX2")) for i in range(3)]
        while not all(future.done() for future in refused):
            await settle([sender.submit(outbound(i)) for i in range(2)])
        outcomes = await settle(refused)
    assert len(dead_lettered(outcomes)) == 3
    failure = dead_lettered(outcomes)[0].failure
    assert (failure.stage, failure.reason, failure.tiktok_code) == (Stage.SEND, "destination_auth_failed", 40001)
    assert failure.exception_class == "DestinationFaultError"


async def test_every_destination_failing_is_held_not_dead_lettered() -> None:
    """When no destination is delivered (a revoked shared token, an endpoint fault) the fault is global: every
    event is held, however long it lasts, and nothing floods the dead-letter topic."""
    async with (
        Sandbox(SandboxSettings(tokens={"the-right-one": []})) as strict,
        running_sender(strict.track_url, destination_fault_after_s=0.01, close_timeout_s=0) as sender,
    ):
        futures = [sender.submit(outbound(i, source_id=f"PIX{i % 2}")) for i in range(6)]
        await eventually(lambda: strict.store.counts()["responses"].get("40105", 0) >= 20)
        assert not any(future.done() for future in futures)
        assert sender.pending == 6


async def test_destination_fault_hold_setting_never_dead_letters() -> None:
    """destination_fault: hold keeps a refused pixel's events held even while another pixel is delivered."""
    async with (
        Sandbox(SandboxSettings(tokens={TOKEN: ["PIX1"]})) as scoped,
        running_sender(
            scoped.track_url, destination_fault="hold", destination_fault_after_s=0.01, close_timeout_s=0
        ) as sender,
    ):
        held = [sender.submit(outbound(10 + i, source_id="PIX2")) for i in range(3)]
        while scoped.store.counts()["responses"].get("40001", 0) < 10:
            await settle([sender.submit(outbound(i)) for i in range(2)])
        assert not any(future.done() for future in held)


async def test_missing_token_holds_without_sending() -> None:
    """No token for an event source: nothing unauthenticated is sent, the events are held."""
    async with Sandbox() as open_sandbox:
        async with running_sender(open_sandbox.track_url, TokenStore(), close_timeout_s=0) as sender:
            future = sender.submit(outbound(1))
            await eventually(lambda: not sender.ready)
            assert not future.done()
        assert open_sandbox.store.counts()["requests"] == 0


async def test_wrong_endpoint_path_holds(sandbox: Sandbox) -> None:
    """A 404 (e.g. the trailing slash forgotten) is a configuration fault, not a reason to drop events."""
    async with running_sender(sandbox.track_url.rstrip("/"), close_timeout_s=0) as sender:
        future = sender.submit(outbound(1))
        await eventually(lambda: not sender.ready)
        assert not future.done()


async def test_auth_fault_is_logged_once_per_interval() -> None:
    """Many held retries produce one warning per interval, not one per request."""
    async with Sandbox(SandboxSettings(tokens={"the-right-one": []})) as strict:
        with capture_logs() as logs:
            async with running_sender(strict.track_url, close_timeout_s=0, auth_fault_log_interval_s=3600) as sender:
                sender.submit(outbound(1))
                await eventually(lambda: strict.store.counts()["responses"].get("40105", 0) >= 5)
    warnings = [entry for entry in logs if entry["event"] == "tiktok_auth_fault_holding"]
    assert len(warnings) == 1
    assert warnings[0]["reason"] == "token_invalid"


# -- revoked partitions: their work is given up ---------------------------------------------------------------------


async def test_twenty_revokes_during_a_token_hold_leave_nothing_retained() -> None:
    """While a rejected token holds every job, each rebalance gives up its partitions' events: after 20 of them the
    sender retains no job and no event (memory back at its baseline), and the given-up futures are cancelled, never
    resolved (the partition's next owner delivers them)."""
    async with (
        Sandbox(SandboxSettings(tokens={"the-right-one": []})) as strict,
        running_sender(strict.track_url, TokenStore(SecretStr("wrong")), close_timeout_s=0) as sender,
    ):
        futures = []
        for rebalance in range(20):
            batch = [sender.submit(outbound(rebalance * 100 + i, partition=rebalance % 3)) for i in range(50)]
            futures += batch
            await sender.flush()
            await eventually(lambda: not sender.ready)
            sender.forget([("orders", rebalance % 3)])
            assert sender.pending == 0
            assert sender.retained_jobs == 0
        assert all(future.cancelled() for future in futures)


async def test_a_revoked_partitions_events_leave_a_shared_batch(sandbox: Sandbox) -> None:
    """A job mixing two partitions' events, held by a token fault, keeps only the assigned partition's events: once
    TikTok accepts, only those are sent."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=40105)] * 3))
    async with running_sender(sandbox.track_url) as sender:
        kept = [sender.submit(outbound(i, partition=1)) for i in range(3)]
        given_up = [sender.submit(outbound(10 + i, partition=2)) for i in range(3)]
        await sender.flush()
        await eventually(lambda: sandbox.store.counts()["responses"].get("40105", 0) >= 1)
        sender.forget([("orders", 2)])
        assert sender.pending == 3
        assert len(delivered(await settle(kept))) == 3
    assert all(future.cancelled() for future in given_up)
    assert sandbox.store.event_ids("PIX1") == ["e0", "e1", "e2"]


async def test_a_revoked_partition_is_not_retried_or_dead_lettered() -> None:
    """Events of a revoked partition stop being retried at once: their job ends (no more requests), and they are
    never dead-lettered when the retry budget would have run out (the new owner has them)."""
    outage = FaultSettings(outages=[Outage(duration_s=3600, http_status=503)])
    async with (
        Sandbox(SandboxSettings(tokens={TOKEN: []}, faults=outage)) as down,
        running_sender(down.track_url, retry_max_attempts=1000, close_timeout_s=0) as sender,
    ):
        future = sender.submit(outbound(1, partition=4))
        await sender.flush()
        await eventually(lambda: down.store.counts()["requests"] >= 2)
        sender.forget([("orders", 4)])
        assert sender.retained_jobs == 0
        assert sender.pending == 0
        await asyncio.sleep(0)
        assert future.cancelled()


# -- lifecycle -------------------------------------------------------------------------------------------------------


async def test_close_flushes_lingering_events(sandbox: Sandbox) -> None:
    """close() sends what is lingering and waits for it to settle."""
    sender = Sender(TikTokSettings(endpoint=sandbox.track_url, **{**FAST, "linger_ms": 3_600_000}), TOKENS)
    await sender.start()
    futures = [sender.submit(outbound(i)) for i in range(3)]
    await sender.close()
    assert all(isinstance(future.result(), Delivered) for future in futures)


async def test_submit_needs_a_started_open_sender(sandbox: Sandbox) -> None:
    """Submitting before start() or after close() is a programming error, reported at once."""
    sender = Sender(TikTokSettings(endpoint=sandbox.track_url, **FAST), TOKENS)
    with pytest.raises(RuntimeError, match="started, open"):
        sender.submit(outbound(1))
    await sender.start()
    assert sender.ready
    await sender.close()
    assert not sender.ready
    with pytest.raises(RuntimeError, match="started, open"):
        sender.submit(outbound(1))


# -- reporting outcomes without a future per event -------------------------------------------------------------------


async def test_send_reports_each_event_once_with_its_context(sandbox: Sandbox) -> None:
    """``send`` tells each event's outcome to its report with the caller's context: one report per event."""
    reports: list[tuple[int, Reported]] = []
    async with running_sender(sandbox.track_url, max_batch_events=7) as sender:
        for i in range(20):
            sender.send(outbound(i), i, lambda context, outcome: reports.append((context, outcome)))
        await eventually(lambda: len(reports) == 20)
        assert sender.pending == 0
    assert sorted(context for context, _ in reports) == list(range(20))
    assert all(isinstance(outcome, Delivered) and outcome.ref.offset == i for i, outcome in reports)


async def test_a_report_that_raises_does_not_stop_the_others(sandbox: Sandbox) -> None:
    """A bug in one caller's report is logged; the other events of the request are still reported, once."""
    reports: list[int] = []

    def report(context: int, outcome: Reported) -> None:
        if context == 3:
            raise RuntimeError("a bug in the caller")
        reports.append(context)

    async with running_sender(sandbox.track_url) as sender:
        with capture_logs() as logs:
            for i in range(10):
                sender.send(outbound(i), i, report)
            await sender.flush()
            await eventually(lambda: len(reports) == 9)
            assert sender.pending == 0
    assert sorted(reports) == [i for i in range(10) if i != 3]
    assert [entry["event"] for entry in logs if entry["log_level"] == "error"] == ["send_outcome_report_failed"]


async def test_events_given_up_report_given_up(sandbox: Sandbox) -> None:
    """Events of a forgotten partition report GIVEN_UP: they stay unsettled, and are not sent."""
    reports: list[Reported] = []
    async with running_sender(sandbox.track_url, linger_ms=60_000) as sender:
        for i in range(5):
            sender.send(outbound(i, partition=2), i, lambda _context, outcome: reports.append(outcome))
        sender.forget([("orders", 2)])
        assert reports == [GIVEN_UP] * 5
        assert sender.pending == 0
    assert sandbox.store.event_ids("PIX1") == []
