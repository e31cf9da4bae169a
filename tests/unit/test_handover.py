"""Partitions handed over at a rebalance: in-flight work settles within the deadline, then every holder gives up
what is left and the ledger forgets the partitions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from consumer.model import SourceRef
from consumer.settlement.handover import Handover
from consumer.settlement.ledger import Ledger, PartitionKey, Position

PARTITION = ("orders", 0)


class Holder:
    def __init__(self) -> None:
        self.forgotten: list[set[PartitionKey]] = []

    def forget(self, partitions: Iterable[PartitionKey]) -> None:
        self.forgotten.append(set(partitions))


class Flush:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


async def test_a_revoke_waits_for_in_flight_work_and_commits_past_it() -> None:
    """Work that settles during the revoke's wait is committed: its position is returned."""
    ledger, holder, flush = Ledger(), Holder(), Flush()
    handover = Handover(ledger, [holder], flush, drain_deadline_s=5.0)
    await handover.assigned([PARTITION])
    token = ledger.track(SourceRef(*PARTITION, 7))
    assert token is not None
    asyncio.get_running_loop().call_later(0.05, ledger.settle, token)
    assert await handover.revoked([PARTITION]) == [Position(*PARTITION, 8)]
    assert flush.calls == 1
    assert holder.forgotten == [{PARTITION}]
    assert ledger.partitions == []


async def test_after_the_service_drained_a_revoke_gives_work_up_at_once() -> None:
    """The shutdown already waited out the drain deadline: a revoke then neither flushes nor waits again."""
    ledger, holder, flush = Ledger(), Holder(), Flush()
    handover = Handover(ledger, [holder], flush, drain_deadline_s=3600.0)
    await handover.assigned([PARTITION])
    assert ledger.track(SourceRef(*PARTITION, 7)) is not None
    handover.drained()
    assert await asyncio.wait_for(handover.revoked([PARTITION]), 5) == []
    assert flush.calls == 0
    assert holder.forgotten == [{PARTITION}]
    assert ledger.unsettled == 0


async def test_a_lost_partition_is_given_up_without_a_wait_or_a_commit() -> None:
    ledger, holder, flush = Ledger(), Holder(), Flush()
    handover = Handover(ledger, [holder], flush, drain_deadline_s=3600.0)
    await handover.assigned([PARTITION])
    assert ledger.track(SourceRef(*PARTITION, 7)) is not None
    await asyncio.wait_for(handover.lost([PARTITION]), 5)
    assert (flush.calls, holder.forgotten, ledger.partitions) == (0, [{PARTITION}], [])
