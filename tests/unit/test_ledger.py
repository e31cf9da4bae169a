"""The settlement ledger: per-partition watermarks, positions to store, and revokes."""

from __future__ import annotations

from consumer.model import SourceRef
from consumer.settlement.ledger import Ledger, Position


def ledger_with(*refs: SourceRef) -> Ledger:
    ledger = Ledger()
    ledger.assign({(r.topic, r.partition) for r in refs})
    for ref in refs:
        ledger.track(ref)
    return ledger


A0 = [SourceRef("a", 0, n) for n in range(3)]
A1 = [SourceRef("a", 1, n) for n in range(2)]


def test_unsettled_counts_tracked_minus_settled() -> None:
    """The total of unsettled messages drives back-pressure: tracked minus settled, across partitions."""
    ledger = ledger_with(*A0, *A1)
    ledger.settle(A0[1])
    ledger.settle(A1[0])
    assert ledger.unsettled == 3


def test_take_positions_returns_only_partitions_that_advanced() -> None:
    """Only a partition whose watermark moved is stored, once."""
    ledger = ledger_with(*A0, *A1)
    ledger.settle(A0[0])
    ledger.settle(A1[1])  # out of order: partition 1 cannot advance yet
    assert ledger.take_positions() == [Position("a", 0, 1)]
    assert ledger.take_positions() == []


def test_messages_of_unassigned_partitions_are_not_tracked() -> None:
    """A message from a partition the ledger does not own is refused."""
    ledger = Ledger()
    assert not ledger.track(SourceRef("a", 0, 0))
    assert ledger.unsettled == 0


def test_revoke_returns_final_positions_and_forgets_the_work() -> None:
    """Revoking returns what to commit and drops the partition's unsettled work from the total."""
    ledger = ledger_with(*A0, *A1)
    ledger.settle(A0[0])
    final = ledger.revoke([("a", 0), ("a", 1)])
    assert final == [Position("a", 0, 1)]
    assert ledger.unsettled == 0
    assert ledger.partitions == []


def test_a_settle_after_revoke_is_ignored() -> None:
    """The late outcome of work given up at a rebalance does not resurrect the partition."""
    ledger = ledger_with(*A0)
    ledger.revoke([("a", 0)])
    assert not ledger.settle(A0[0])
    assert ledger.take_positions() == []


def test_unsettled_in_counts_only_the_named_partitions() -> None:
    """A revoke waits for its own partitions' work, not the others'."""
    ledger = ledger_with(*A0, *A1)
    assert ledger.unsettled_in([("a", 1)]) == 2


def test_reassigning_an_owned_partition_keeps_its_state() -> None:
    """An assignment that repeats a partition already tracked does not reset its watermark."""
    ledger = ledger_with(*A0)
    ledger.settle(A0[0])
    ledger.assign([("a", 0)])
    assert ledger.positions() == [Position("a", 0, 1)]
    assert ledger.unsettled == 2


def test_a_rewound_partition_starts_over_without_skipping() -> None:
    """An offset below what was tracked (a reset after log truncation) restarts the partition's watermark there:
    the old unsettled work no longer counts and the position follows the new offsets."""
    ledger = ledger_with(*A0)
    ledger.settle(A0[0])
    assert ledger.track(SourceRef("a", 0, 1))
    assert ledger.unsettled == 1
    ledger.settle(SourceRef("a", 0, 1))
    assert ledger.positions() == [Position("a", 0, 2)]
