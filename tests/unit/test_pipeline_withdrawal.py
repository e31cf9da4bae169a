"""A consent withdrawal the sender finds at send time is audited like any consent drop, then settled."""

from __future__ import annotations

import asyncio

from consumer.model import ConsentWithheld, SourceRef, WithheldAtSend
from consumer.observability.metrics import REGISTRY
from consumer.pipeline import Pipeline
from consumer.settlement.ledger import Ledger
from tests.unit.test_pipeline import (
    TOPIC,
    FakeDecoder,
    FakePublisher,
    FakeSender,
    FakeTranslator,
    message,
    settle_callbacks,
)


class RecordingPublisher(FakePublisher):
    """Also keeps the audit records themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.withheld: list[ConsentWithheld] = []

    def audit(self, withheld: ConsentWithheld) -> asyncio.Future[None]:
        self.withheld.append(withheld)
        return super().audit(withheld)


async def test_a_withdrawal_at_send_time_is_audited_then_settled() -> None:
    """The audit record is the relay's usual one (route, event, event_id) with the withdrawal's reason; the
    message settles as consent_dropped once the audit write is acknowledged, never before."""
    sender, publisher, ledger = FakeSender(), RecordingPublisher(), Ledger()
    ledger.assign([(TOPIC, 0)])
    pipeline = Pipeline(FakeDecoder(), FakeTranslator(), sender, publisher, ledger, clock_ms=lambda: 1_000)
    before = REGISTRY.get_sample_value(
        "tiktok_relay_withheld_at_send_total", {"route": "orders", "reason": "consent_withdrawn_later"}
    )
    pipeline.process([message(0)])
    sender.futures[0].set_result(WithheldAtSend(SourceRef(TOPIC, 0, 0), "consent_withdrawn_later"))
    await settle_callbacks()

    assert publisher.withheld == [
        ConsentWithheld(SourceRef(TOPIC, 0, 0), "orders", "Purchase", "e0", "consent_withdrawn_later", 1_000)
    ]
    assert ledger.positions() == []
    publisher.audits[0].set_result(None)
    await settle_callbacks()
    assert [p.offset for p in ledger.positions()] == [1]
    pipeline.flush_metrics()
    after = REGISTRY.get_sample_value(
        "tiktok_relay_withheld_at_send_total", {"route": "orders", "reason": "consent_withdrawn_later"}
    )
    assert (after or 0) - (before or 0) == 1
