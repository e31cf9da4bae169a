"""SIGTERM: the final commit happens after the sender has closed, so deliveries that complete during the close are
committed instead of being sent again after the restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consumer.app import RelayService
from consumer.config import load_config
from consumer.model import SourceRef
from consumer.sending.tokens import TokenStore
from consumer.settlement.ledger import Ledger, Position, SettleToken

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
PARTITION = ("orders.paid", 0)


class SenderDeliveringOnClose:
    """A sender whose one request in flight is answered while ``close`` waits for it (as a slow TikTok does)."""

    def __init__(self, ledger: Ledger, token: SettleToken) -> None:
        self._ledger = ledger
        self._token = token

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        delivered = asyncio.get_running_loop().create_future()
        delivered.add_done_callback(lambda _: self._ledger.settle(self._token))  # as the pipeline settles
        delivered.set_result(None)
        await asyncio.sleep(0)


class IntakeRecordingCommit:
    def __init__(self) -> None:
        self.committed: list[Position] | None = None

    async def close(self, final: list[Position]) -> None:
        self.committed = final


class ClosedPublisher:
    async def close(self, timeout_s: float) -> None:
        del timeout_s


async def test_a_delivery_completing_during_the_sender_close_is_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The drain deadline passes with one event in flight; the sender's close waits for it and TikTok accepts it:
    the final commit includes its offset."""
    monkeypatch.setenv("RELAY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("RELAY_KAFKA__DRAIN_DEADLINE_S", "0.05")
    service = RelayService(load_config(EXAMPLE), tokens=TokenStore.from_env({}))
    ledger = service._ledger
    ledger.assign([PARTITION])
    token = ledger.track(SourceRef(*PARTITION, 41))
    assert token is not None
    intake = IntakeRecordingCommit()
    service._sender = SenderDeliveringOnClose(ledger, token)  # type: ignore[assignment]
    service._intake = intake  # type: ignore[assignment]
    service._publisher = ClosedPublisher()  # type: ignore[assignment]

    await service._shutdown()

    assert intake.committed == [Position(*PARTITION, 42)]
