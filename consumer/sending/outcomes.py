"""The sender's outcome bookkeeping: reporting each event's outcome to its caller once its fate is known, and
counting the events whose outcome is not known yet per source partition (what a rebalance and the retained-events
metrics ask).

Outcomes are reported a request at a time: one loop over the request's events, each told through its caller's
``report`` with the caller's context, with no future or scheduled callback per event. A report that raises (a bug
in the caller) is logged and does not stop the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import structlog

from consumer.model import DeadLettered, Delivered, Failure, WithheldAtSend
from consumer.observability.logging import mask_text
from consumer.sending.client import TrackResponse
from consumer.sending.errors import SendError
from consumer.sending.job import GIVEN_UP, Job, Pending, Reported, SourcePartition

log = structlog.get_logger(__name__)


class Outcomes:
    """Events retained per source partition; every event leaves through exactly one of the settling methods."""

    __slots__ = ("_retained",)

    def __init__(self) -> None:
        self._retained: Counter[SourcePartition] = Counter()

    @property
    def pending(self) -> int:
        """Events retained: submitted, outcome not known yet."""
        return self._retained.total()

    @property
    def retained(self) -> Mapping[SourcePartition, int]:
        """``pending`` per source partition (partitions with none are absent)."""
        return self._retained

    def holds_any(self, partitions: set[SourcePartition]) -> bool:
        """Whether an event of ``partitions`` is retained."""
        return not partitions.isdisjoint(self._retained)

    def retain(self, entry: Pending) -> None:
        self._retained[entry.ref.topic, entry.ref.partition] += 1

    def delivered(self, job: Job, response: TrackResponse | None) -> None:
        code = response.code if response is not None and response.code is not None else 0
        request_id = response.request_id if response is not None else None
        for entry in job.entries:
            _report(entry, Delivered(entry.ref, code, request_id))
        self._release(job.entries)

    def withheld(self, entry: Pending, reason: str) -> None:
        """The consent table withholds ``entry`` now: it leaves unsent."""
        _report(entry, WithheldAtSend(entry.ref, reason))
        self._release((entry,))

    def dead_letter(self, job: Job, error: SendError, now: float) -> None:
        by_route: dict[str, Failure] = {}
        for entry in job.entries:
            failure = by_route.get(entry.route)
            if failure is None:
                failure = by_route[entry.route] = failure_of(error, now, entry.route, job)
            _report(entry, DeadLettered(entry.ref, failure))
        self._release(job.entries)

    def give_up(self, entries: Sequence[Pending]) -> None:
        """Give ``entries`` up unsettled (shutdown, or their partition is gone)."""
        for entry in entries:
            _report(entry, GIVEN_UP)
        self._release(entries)

    def fail(self, job: Job, error: Exception) -> None:
        """A bug ended ``job``: its events report the error rather than hang."""
        for entry in job.entries:
            _report(entry, error)
        self._release(job.entries)

    def _release(self, entries: Iterable[Pending]) -> None:
        """Stop counting ``entries`` as retained (their outcome is known, or they were given up): a count per
        partition, then one update per partition rather than per event."""
        retained = self._retained
        for key, count in Counter((entry.ref.topic, entry.ref.partition) for entry in entries).items():
            left = retained[key] - count
            if left:
                retained[key] = left
            else:
                del retained[key]


def _report(entry: Pending, outcome: Reported) -> None:
    try:
        entry.report(entry.context, outcome)
    except Exception:  # a caller's bug must not stop the other events' reports, nor be reported as theirs
        log.exception("send_outcome_report_failed", route=entry.route)


def failure_of(error: SendError, now: float, route: str, job: Job | None = None) -> Failure:
    """The dead-letter context of ``error``; TikTok's message is masked, like every text that may hold PII."""
    response = job.last if job is not None else None
    first = job.first_failure_s if job is not None and job.first_failure_s is not None else now
    return Failure(
        stage=error.stage,
        reason=error.reason,
        exception_class=type(error).__name__,
        message=mask_text(str(error)),
        attempts=job.attempts if job is not None else 1,
        first_failure_ms=int(first * 1000),
        last_failure_ms=int(now * 1000),
        http_status=response.http_status if response else None,
        tiktok_code=response.code if response else None,
        tiktok_message=mask_text(response.message) if response and response.message else None,
        request_id=response.request_id if response else None,
        route=route,
    )
