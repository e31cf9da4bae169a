"""A revoke cut short by the intake's callback timeout still drops the partitions' state."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consumer.app import RelayService
from consumer.config import load_config
from consumer.model import Destination, EventSource, OutboundEvent, SourceRef, TikTokEvent
from consumer.sending.tokens import TokenStore

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
PARTITION = ("orders.paid", 0)


async def test_a_cancelled_revoke_still_forgets_the_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the wait for in-flight work is cancelled, the partition is no longer tracked: its stale work is neither
    retried for a partition another member owns nor mixed into a later re-assignment."""
    monkeypatch.setenv("RELAY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
    service = RelayService(load_config(EXAMPLE), tokens=TokenStore.from_env({}))
    ledger = service._ledger
    ledger.assign([PARTITION])
    assert ledger.track(SourceRef(*PARTITION, 5)) is not None
    revoke = asyncio.ensure_future(service._handover.revoked([PARTITION]))
    await asyncio.sleep(0.05)
    assert not revoke.done(), "the revoke should be waiting for the unsettled message"
    revoke.cancel()
    with pytest.raises(asyncio.CancelledError):
        await revoke
    assert ledger.partitions == []
    assert ledger.unsettled == 0


async def test_lost_and_revoked_partitions_leave_nothing_in_the_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a token every event is held; losing one partition and revoking the other gives both partitions'
    events up in the sender, so nothing of them is sent, retried or dead-lettered later."""
    monkeypatch.setenv("RELAY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("RELAY_TIKTOK__CLOSE_TIMEOUT_S", "0")
    service = RelayService(load_config(EXAMPLE), tokens=TokenStore.from_env({}))
    sender = service._sender
    await sender.start()
    try:
        other = ("orders.paid", 1)
        service._ledger.assign([PARTITION, other])
        futures = [sender.submit(held_event(partition, n)) for partition in (0, 1) for n in range(5)]
        await sender.flush()
        await service._handover.lost([PARTITION])
        assert sender.retained == {other: 5}
        await service._handover.revoked([other])
        assert sender.pending == 0
        assert sender.retained_jobs == 0
        await asyncio.sleep(0)
        assert all(future.cancelled() for future in futures)
    finally:
        await sender.close()


def held_event(partition: int, offset: int) -> OutboundEvent:
    destination = Destination(EventSource.WEB, "C4ABCDEF1234567890")
    event = TikTokEvent("Purchase", 1_700_000_000, f"e{partition}-{offset}")
    return OutboundEvent(SourceRef("orders.paid", partition, offset), "order-paid", destination, event, "record")
