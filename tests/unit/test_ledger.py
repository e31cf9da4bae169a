"""The settlement ledger: per-partition watermarks, positions to store, revokes, and settle tokens."""

from __future__ import annotations

import random

from consumer.model import SourceRef
from consumer.settlement.ledger import Ledger, Position, SettleToken


def ledger_with(*refs: SourceRef) -> tuple[Ledger, dict[SourceRef, SettleToken]]:
    """A ledger that owns the refs' partitions and tracked them; the tokens that settle each ref."""
    ledger = Ledger()
    ledger.assign({(r.topic, r.partition) for r in refs})
    tokens = {}
    for ref in refs:
        token = ledger.track(ref)
        assert token is not None
        tokens[ref] = token
    return ledger, tokens


A0 = [SourceRef("a", 0, n) for n in range(3)]
A1 = [SourceRef("a", 1, n) for n in range(2)]


def test_unsettled_counts_tracked_minus_settled() -> None:
    """The total of unsettled messages drives back-pressure: tracked minus settled, across partitions."""
    ledger, tokens = ledger_with(*A0, *A1)
    ledger.settle(tokens[A0[1]])
    ledger.settle(tokens[A1[0]])
    assert ledger.unsettled == 3


def test_take_positions_returns_only_partitions_that_advanced() -> None:
    """Only a partition whose watermark moved is stored, once."""
    ledger, tokens = ledger_with(*A0, *A1)
    ledger.settle(tokens[A0[0]])
    ledger.settle(tokens[A1[1]])  # out of order: partition 1 cannot advance yet
    assert ledger.take_positions() == [Position("a", 0, 1)]
    assert ledger.take_positions() == []


def test_messages_of_unassigned_partitions_are_not_tracked() -> None:
    """A message from a partition the ledger does not own is refused."""
    ledger = Ledger()
    assert ledger.track(SourceRef("a", 0, 0)) is None
    assert ledger.unsettled == 0


def test_revoke_returns_final_positions_and_forgets_the_work() -> None:
    """Revoking returns what to commit and drops the partition's unsettled work from the total."""
    ledger, tokens = ledger_with(*A0, *A1)
    ledger.settle(tokens[A0[0]])
    final = ledger.revoke([("a", 0), ("a", 1)])
    assert final == [Position("a", 0, 1)]
    assert ledger.unsettled == 0
    assert ledger.partitions == []


def test_a_settle_after_revoke_is_ignored() -> None:
    """The late outcome of work given up at a rebalance does not resurrect the partition."""
    ledger, tokens = ledger_with(*A0)
    ledger.revoke([("a", 0)])
    assert not ledger.settle(tokens[A0[0]])
    assert ledger.take_positions() == []


def test_unsettled_in_counts_only_the_named_partitions() -> None:
    """A revoke waits for its own partitions' work, not the others'."""
    ledger, _ = ledger_with(*A0, *A1)
    assert ledger.unsettled_in([("a", 1)]) == 2


def test_reassigning_an_owned_partition_keeps_its_state() -> None:
    """An assignment that repeats a partition already tracked does not reset its watermark."""
    ledger, tokens = ledger_with(*A0)
    ledger.settle(tokens[A0[0]])
    ledger.assign([("a", 0)])
    assert ledger.positions() == [Position("a", 0, 1)]
    assert ledger.unsettled == 2


def test_a_rewound_partition_starts_over_without_skipping() -> None:
    """An offset below what was tracked (a reset after log truncation) restarts the partition's watermark there:
    the old unsettled work no longer counts and the position follows the new offsets."""
    ledger, tokens = ledger_with(*A0)
    ledger.settle(tokens[A0[0]])
    again = ledger.track(SourceRef("a", 0, 1))
    assert again is not None
    assert ledger.unsettled == 1
    ledger.settle(again)
    assert ledger.positions() == [Position("a", 0, 2)]


def test_a_late_outcome_of_a_previous_assignment_does_not_settle_the_new_one() -> None:
    """Revoke and re-assign: the old assignment's token for offset 1 does not settle the new assignment's offset 1,
    which would otherwise be committed before it was delivered."""
    ledger, _ = ledger_with(*A0)
    old = ledger.track(SourceRef("a", 0, 3))
    ledger.revoke([("a", 0)])
    ledger.assign([("a", 0)])
    new = ledger.track(SourceRef("a", 0, 3))
    assert old is not None and new is not None
    assert not ledger.settle(old)
    assert ledger.unsettled == 1
    assert ledger.positions() == []
    assert ledger.settle(new)
    assert ledger.positions() == [Position("a", 0, 4)]


def test_a_late_outcome_from_before_a_rewind_does_not_settle_the_replayed_record() -> None:
    """After an offset rewind (log truncation), an outcome of the record that used to be at offset 5 does not
    settle the different record now consumed at offset 5."""
    ledger = Ledger()
    ledger.assign([("a", 0)])
    before = [ledger.track(SourceRef("a", 0, n)) for n in range(4, 7)]
    after = [ledger.track(SourceRef("a", 0, n)) for n in range(4, 7)]
    assert all(t is not None for t in before + after)
    assert not ledger.settle(before[0])  # type: ignore[arg-type]
    assert not ledger.settle(before[1])  # type: ignore[arg-type]
    assert ledger.unsettled == 3
    assert ledger.positions() == []


def test_a_token_names_its_message_and_assignment() -> None:
    """Tracking returns a token with the message's place and the partition's assignment generation; a partition
    that is not assigned gives no token."""
    ledger = Ledger()
    assert ledger.track(SourceRef("a", 0, 0)) is None
    ledger.assign([("a", 0), ("a", 1)])
    first = ledger.track(SourceRef("a", 0, 7))
    other = ledger.track(SourceRef("a", 1, 7))
    assert first is not None and other is not None
    assert (first.topic, first.partition, first.offset) == ("a", 0, 7)
    assert first.generation != other.generation
    assert not ledger.settle(SettleToken("a", 1, 7, first.generation))
    assert ledger.settle(other)


def test_the_tracked_span_counts_settled_messages_held_behind_an_unsettled_one() -> None:
    """A partition whose oldest message does not settle keeps every later message tracked, settled or not: the
    span (what back-pressure bounds per partition) counts them all; a partition that settles in order has none."""
    stuck = [SourceRef("a", 0, n) for n in range(100)]
    flowing = [SourceRef("a", 1, n) for n in range(100)]
    ledger, tokens = ledger_with(*stuck, *flowing)
    for ref in stuck[1:] + flowing:
        ledger.settle(tokens[ref])
    assert ledger.unsettled == 1
    assert ledger.spans() == {("a", 0): 100, ("a", 1): 0}


def test_the_age_of_the_oldest_unsettled_message_per_partition() -> None:
    """Age = now minus when the oldest unsettled message was consumed (to the clock's resolution); a partition with
    nothing unsettled has age 0."""
    now = [100.0]
    ledger = Ledger(clock=lambda: now[0])
    ledger.assign([("a", 0), ("a", 1)])
    first = ledger.track(SourceRef("a", 0, 0))
    now[0] = 130.0
    later = [ledger.track(SourceRef("a", 0, n)) for n in range(1, 5)]
    done = ledger.track(SourceRef("a", 1, 0))
    assert first is not None and done is not None and all(later)
    ledger.settle(done)
    now[0] = 160.0
    assert ledger.oldest_unsettled_ages() == {("a", 0): 60.0, ("a", 1): 0.0}
    ledger.settle(first)
    assert ledger.oldest_unsettled_ages() == {("a", 0): 30.0, ("a", 1): 0.0}


def test_tracking_a_batch_is_tracking_its_messages_in_turn_with_one_clock_reading() -> None:
    """``track_all`` (the pipeline's path, one clock reading per batch) gives the same tokens, counts, spans, ages and
    positions as tracking each message in turn, over many random batches with unassigned partitions, rewinds and
    settles in any order."""
    rng = random.Random(16)
    for _ in range(200):
        clock = ClockReadings(5.0)
        one_by_one, batched = Ledger(clock=lambda: 5.0), Ledger(clock=clock)
        for ledger in (one_by_one, batched):
            ledger.assign([("a", 0), ("a", 1), ("b", 0)])
        next_offset = {key: 0 for key in [("a", 0), ("a", 1), ("b", 0), ("b", 1)]}
        for _ in range(rng.randint(1, 5)):
            refs = []
            for _ in range(rng.randint(0, 30)):
                key = rng.choice(list(next_offset))
                if rng.random() < 0.05:
                    next_offset[key] = max(0, next_offset[key] - rng.randint(1, 5))  # a rewind
                refs.append(SourceRef(key[0], key[1], next_offset[key]))
                next_offset[key] += rng.randint(1, 2)  # gaps, as transaction markers leave
            readings = clock.readings
            expected = [one_by_one.track(ref) for ref in refs]
            tokens = batched.track_all(refs)
            assert clock.readings == readings + 1
            assert [_fields(t) for t in tokens] == [_fields(t) for t in expected]
            for token, twin in zip(tokens, expected, strict=True):
                if token is not None and twin is not None and rng.random() < 0.6:
                    assert batched.settle(token) == one_by_one.settle(twin)
            assert batched.unsettled == one_by_one.unsettled
            assert batched.spans() == one_by_one.spans()
            assert batched.oldest_unsettled_ages() == one_by_one.oldest_unsettled_ages()
            assert sorted(batched.take_positions(), key=repr) == sorted(one_by_one.take_positions(), key=repr)


class ClockReadings:
    """A fixed clock that counts its readings."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return self.now


def _fields(token: SettleToken | None) -> tuple[str, int, int, int] | None:
    return None if token is None else (token.topic, token.partition, token.offset, token.generation)
