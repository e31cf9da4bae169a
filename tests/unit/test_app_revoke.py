"""A revoke cut short by the intake's callback timeout still drops the partitions' state."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consumer.app import RelayService
from consumer.config import load_config
from consumer.model import SourceRef
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
    revoke = asyncio.ensure_future(service.revoked([PARTITION]))
    await asyncio.sleep(0.05)
    assert not revoke.done(), "the revoke should be waiting for the unsettled message"
    revoke.cancel()
    with pytest.raises(asyncio.CancelledError):
        await revoke
    assert ledger.partitions == []
    assert ledger.unsettled == 0
