"""Partitions handed over at a rebalance: the one place that settles or gives up their work.

The intake's rebalance callbacks come here. An assignment starts tracking the partitions in the ledger. A revoke
first sends every lingering batch and gives the partitions' in-flight work until the drain deadline to settle (their
positions then include it), and then, also when that wait is cut short, makes every holder of their work (the
pipeline's messages waiting for a decode outage, the sender's events) give it up and drops the partitions from the
ledger, returning their final positions to commit. A lost partition may belong to someone else already: its work is
given up at once and nothing is committed. Work given up is replayed by the partition's next owner; nothing is sent,
retried or dead-lettered for a partition this process no longer owns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Protocol

import structlog

from consumer.settlement.ledger import Ledger, PartitionKey, Position

log = structlog.get_logger(__name__)

DRAIN_POLL_S = 0.02


class HoldsWork(Protocol):
    """Something that keeps work of source partitions until it settles (the pipeline, the sender)."""

    def forget(self, partitions: Iterable[PartitionKey]) -> None:
        """Give up the work of ``partitions``: their next owner replays it."""


class Handover:
    """The rebalance listener of the intake: the ledger and the holders of work, in one call per rebalance."""

    def __init__(
        self,
        ledger: Ledger,
        holders: Sequence[HoldsWork],
        flush: Callable[[], Awaitable[None]],
        drain_deadline_s: float,
    ) -> None:
        """``flush`` sends every lingering batch; ``drain_deadline_s`` bounds a revoke's wait for in-flight work."""
        self._ledger = ledger
        self._holders = holders
        self._flush = flush
        self._drain_deadline_s = drain_deadline_s
        self._drained = False

    def drained(self) -> None:
        """The service drained its work at shutdown: later revokes give up what is left at once."""
        self._drained = True

    async def assigned(self, partitions: list[PartitionKey]) -> None:
        self._ledger.assign(partitions)

    async def revoked(self, partitions: list[PartitionKey]) -> list[Position]:
        """Give in-flight work of ``partitions`` until the drain deadline to settle, then return what to commit."""
        try:
            if not self._drained:
                await self._flush()
                left = await wait_settled(partial(self._ledger.unsettled_in, partitions), self._drain_deadline_s)
                if left:
                    log.warning("revoke_gave_up_in_flight", unsettled=left, partitions=len(partitions))
        finally:
            # Also when the intake's callback timeout cancels this wait: state kept for a partition another member
            # now owns would be retried here and, on a later re-assignment, mixed with the new offsets.
            positions = self._give_up(partitions)
        return positions

    async def lost(self, partitions: list[PartitionKey]) -> None:
        self._give_up(partitions)

    def _give_up(self, partitions: list[PartitionKey]) -> list[Position]:
        for holder in self._holders:
            holder.forget(partitions)
        return self._ledger.revoke(partitions)


async def wait_settled(unsettled: Callable[[], int], deadline_s: float) -> int:
    """Wait until ``unsettled()`` is 0 or ``deadline_s`` passed; return what is left."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while (left := unsettled()) and loop.time() < deadline:
        await asyncio.sleep(DRAIN_POLL_S)
    return left
