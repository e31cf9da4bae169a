"""What the sender keeps per submitted event (``Pending``) and per request (``Job``), and one try's result."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from consumer.model import ConsentSubject, DeadLettered, Delivered, Destination, SourceRef, WithheldAtSend
from consumer.sending.body import TrackRequest
from consumer.sending.classify import Verdict
from consumer.sending.client import TrackResponse

SendOutcome = Delivered | DeadLettered | WithheldAtSend
SourcePartition = tuple[str, int]
"""A source topic and partition, as the intake names them (the sender only uses it to give work up)."""


class Pending:
    """One submitted event: its encoded JSON, its bookkeeping and the future its caller awaits."""

    __slots__ = ("future", "payload", "ref", "route", "subject")

    def __init__(
        self,
        payload: bytes,
        ref: SourceRef,
        route: str,
        future: asyncio.Future[SendOutcome],
        subject: ConsentSubject | None = None,
    ) -> None:
        self.payload = payload
        self.ref = ref
        self.route = route
        self.future = future
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
    request: TrackRequest[Pending] | None = None  # the encoded request of ``entries``, rebuilt when they change

    def half(self, entries: list[Pending]) -> Job:
        return Job(self.destination, entries, self.attempts, 0, self.first_failure_s, None, self.last)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a job: how it was classified, TikTok's answer (None after a transport error or without a token)."""

    verdict: Verdict
    response: TrackResponse | None
    detail: str  # what happened, for logs and dead-letter messages; never a token or PII
    sent: bool = True
