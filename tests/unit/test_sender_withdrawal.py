"""The sender asks the consent table just before each request (first send, retry, isolated half): a subject who
withdrew consent meanwhile is withheld, never sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from consumer.consent_table.table import CONSENT_WITHDRAWN_LATER
from consumer.model import ConsentSubject, Delivered, OutboundEvent, WithheldAtSend
from consumer.sandbox.server import Sandbox
from consumer.sandbox.settings import FaultSettings, Outage
from consumer.sending.sender import Sender, Withhold
from consumer.sending.settings import TikTokSettings
from tests.unit.test_sender import FAST, TOKENS, outbound, sandbox, settle

__all__ = ["sandbox"]  # the fixture, imported for the tests below

WITHDRAWN = b"w" * 16


@asynccontextmanager
async def running_sender(endpoint: str, withhold: Withhold, **settings: Any) -> AsyncIterator[Sender]:
    sender = Sender(TikTokSettings(endpoint=endpoint, **{**FAST, **settings}), TOKENS, withhold=withhold)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.close()


def about(event: OutboundEvent, digest: bytes) -> OutboundEvent:
    return event._replace(subject=ConsentSubject(digest, 1, event.event.event_time * 1000))


async def test_an_event_withdrawn_before_its_first_send_is_not_sent(sandbox: Sandbox) -> None:
    """The check runs when the batch is sent: the withdrawn event is withheld, the others of its batch go."""

    def withhold(subject: ConsentSubject) -> str | None:
        return CONSENT_WITHDRAWN_LATER if subject.digest == WITHDRAWN else None

    async with running_sender(sandbox.track_url, withhold=withhold) as sender:
        outcomes = await settle(
            [sender.submit(about(outbound(i), WITHDRAWN if i == 3 else bytes(16))) for i in range(10)]
        )
    assert outcomes[3] == WithheldAtSend(outbound(3).ref, CONSENT_WITHDRAWN_LATER)
    assert all(isinstance(o, Delivered) for i, o in enumerate(outcomes) if i != 3)
    assert sorted(sandbox.store.event_ids("PIX1")) == sorted(f"e{i}" for i in range(10) if i != 3)


async def test_a_withdrawal_during_an_outage_withholds_the_event_at_its_retry(sandbox: Sandbox) -> None:
    """TikTok is down at the first send; the subject withdraws before the retry: the retry does not carry it."""
    sandbox.set_faults(FaultSettings(outages=[Outage(start_s=0, duration_s=0.3, http_status=503)]))
    checks: list[bytes] = []

    def withhold(subject: ConsentSubject) -> str | None:
        # the withdrawal arrives after the first (failed) send: every later check sees it
        checks.append(subject.digest)
        withdrawn = subject.digest == bytes([2]) * 16 and checks.count(subject.digest) > 1
        return CONSENT_WITHDRAWN_LATER if withdrawn else None

    async with running_sender(sandbox.track_url, withhold=withhold, retry_max_backoff_s=0.05) as sender:
        outcomes = await settle([sender.submit(about(outbound(i), bytes([i]) * 16)) for i in range(4)])
    assert outcomes[2] == WithheldAtSend(outbound(2).ref, CONSENT_WITHDRAWN_LATER)
    assert sorted(sandbox.store.event_ids("PIX1")) == ["e0", "e1", "e3"]


async def test_events_without_a_subject_are_not_checked(sandbox: Sandbox) -> None:
    calls: list[ConsentSubject] = []

    def withhold(subject: ConsentSubject) -> str | None:
        calls.append(subject)
        return CONSENT_WITHDRAWN_LATER

    async with running_sender(sandbox.track_url, withhold=withhold) as sender:
        outcomes = await settle([sender.submit(outbound(i)) for i in range(3)])
    assert calls == []
    assert all(isinstance(o, Delivered) for o in outcomes)


async def test_a_withdrawal_while_the_request_waits_for_the_rate_limiter_withholds_the_event(
    sandbox: Sandbox,
) -> None:
    """The check runs once the request holds its slot and its rate-limiter token, not before the wait: a request
    queued behind the limiter (or behind hanging requests in an outage) must not carry a subject who withdrew
    while it waited."""
    withdrawn = False

    def withhold(subject: ConsentSubject) -> str | None:
        return CONSENT_WITHDRAWN_LATER if withdrawn and subject.digest == WITHDRAWN else None

    # One token a second, burst 1: the first request takes the token, the second waits about a second for its own.
    async with running_sender(
        sandbox.track_url, withhold=withhold, max_requests_per_second=1.0, rate_burst=1
    ) as sender:
        first = sender.submit(about(outbound(0, source_id="PIX1"), bytes(16)))
        second = sender.submit(about(outbound(1, source_id="PIX2"), WITHDRAWN))
        await sender.flush()
        for _ in range(20):  # both jobs run to their first await: the second now waits for a token
            await asyncio.sleep(0)
        withdrawn = True  # the subject withdraws while the second request waits
        outcomes = await settle([first, second])
    assert isinstance(outcomes[0], Delivered)
    assert outcomes[1] == WithheldAtSend(outbound(1).ref, CONSENT_WITHDRAWN_LATER)
    assert sandbox.store.event_ids("PIX2") == []
