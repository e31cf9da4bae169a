"""What the sender keeps per submitted event (``Pending``) and per request (``Job``), one try's result, and how an
event's outcome reaches its caller (``Report``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from consumer.model import ConsentSubject, DeadLettered, Delivered, Destination, SourceRef, WithheldAtSend
from consumer.sending.body import TrackRequest
from consumer.sending.classify import Verdict
from consumer.sending.client import TrackResponse

SendOutcome = Delivered | DeadLettered | WithheldAtSend


class GivenUp:
    """The event was given up unsettled: its partition was revoked or lost, or the sender closed first. Its offset
    is not committed; the partition's next owner (or the next start) replays it."""

    __slots__ = ()


GIVEN_UP: Final = GivenUp()

Reported = SendOutcome | GivenUp | Exception
"""What a report carries: the final outcome, ``GIVEN_UP``, or the error of a bug that ended the event's job."""
C = TypeVar("C")
Report = Callable[[C, Reported], None]
"""Called once per event with the caller's context and what became of the event; never raises into the sender."""
SourcePartition = tuple[str, int]
"""A source topic and partition, as the intake names them (the sender only uses it to give work up)."""


class Pending:
    """One submitted event: its encoded JSON, its bookkeeping, and the caller's context and report."""

    __slots__ = ("context", "payload", "ref", "report", "route", "subject")

    def __init__(  # noqa: PLR0917 - built once per event: positional arguments cost measurably less than keywords
        self,
        payload: bytes,
        ref: SourceRef,
        route: str,
        context: Any,
        report: Report[Any],
        subject: ConsentSubject | None,
    ) -> None:
        self.payload = payload
        self.ref = ref
        self.route = route
        self.context = context
        self.report = report
        self.subject = subject


@dataclass(slots=True)
class Job:
    """A request's events and their shared history; the halves of a split batch inherit it."""

    destination: Destination
    entries: list[Pending]
    attempts: int = 0  # requests that carried these events
    failures: int = 0  # consecutive transient failures, counted against the retry budget
    first_failure_s: float | None = None  # first failure of any kind (dead-letter header)
    retry_since_s: float | None = None  # first of the current run of transient failures (time budget)
    last: TrackResponse | None = None  # the latest answer (dead-letter context); None after a transport error
    request: TrackRequest[Pending] | None = None  # the body of ``entries``; dropped while waiting

    def half(self, entries: list[Pending]) -> Job:
        return Job(self.destination, entries, self.attempts, 0, self.first_failure_s, None, self.last)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a job: how it was classified, TikTok's answer (None after a transport error or without a token)."""

    verdict: Verdict
    response: TrackResponse | None
    detail: str  # what happened, for logs and dead-letter messages; never a token or PII
    sent: bool = True
