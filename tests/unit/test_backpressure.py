"""Back-pressure: pause at the bound, resume with hysteresis, never fetch past the bound."""

from __future__ import annotations

from consumer.intake.backpressure import BackPressure, FlowAction, PartitionFlow, SpanLimit

POLICY = BackPressure.from_bound(1000, 0.5)


def test_pauses_at_the_bound() -> None:
    """Reaching the unsettled bound pauses consumption."""
    assert POLICY.decide(1000, paused=False) is FlowAction.PAUSE


def test_does_nothing_between_the_marks() -> None:
    """Between the resume mark and the bound, the current state holds (paused or not)."""
    assert POLICY.decide(700, paused=False) is None
    assert POLICY.decide(700, paused=True) is None


def test_resumes_at_the_low_mark() -> None:
    """A paused consumer resumes once unsettled work drained to the resume fraction."""
    assert POLICY.decide(500, paused=True) is FlowAction.RESUME


def test_fetch_limit_is_cut_to_the_room_left() -> None:
    """A consume call never asks for more than the room under the bound."""
    assert POLICY.fetch_limit(900, batch=500) == 100
    assert POLICY.fetch_limit(0, batch=500) == 500


def test_fetch_limit_is_at_least_one() -> None:
    """consume() must still be called at the bound, to serve callbacks, so the limit never reaches zero."""
    assert POLICY.fetch_limit(5000, batch=500) == 1


SPAN = SpanLimit.from_bound(1000, 0.5)


def test_a_partition_whose_span_reaches_the_limit_is_paused_alone() -> None:
    """Only the partition holding 1000 tracked messages behind its oldest unsettled one is paused."""
    flow = SPAN.decide({("a", 0): 1000, ("a", 1): 10}, paused=frozenset())
    assert flow == PartitionFlow(pause=frozenset({("a", 0)}), resume=frozenset())


def test_a_span_paused_partition_resumes_once_its_span_shrank_to_the_low_mark() -> None:
    """Hysteresis: still paused at 600, resumed at 500; a partition no longer tracked (revoked) is dropped too."""
    assert SPAN.decide({("a", 0): 600}, paused=frozenset({("a", 0)})) is None
    flow = SPAN.decide({("a", 0): 500}, paused=frozenset({("a", 0), ("b", 0)}))
    assert flow == PartitionFlow(pause=frozenset(), resume=frozenset({("a", 0), ("b", 0)}))
