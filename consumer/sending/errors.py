"""Why the sender gives up on an event: the permanent failures of the send stage, as dead-letter categories."""

from __future__ import annotations

from consumer.model import PermanentError, Stage


class SendError(PermanentError):
    """An event the sender cannot deliver; its ``reason`` is the dead-letter category."""

    stage = Stage.SEND
    reason = "send_error"


class TikTokRejectionError(SendError):
    """TikTok (or its gateway) rejected the event itself: a 40000/40002 on a batch narrowed down to this event, or
    an HTTP 4xx that no retry can fix."""

    reason = "tiktok_rejected"


class RetryBudgetExhaustedError(SendError):
    """Transient failures outlasted the configured retry budget (attempts or time)."""

    reason = "retry_budget_exhausted"


class DestinationFaultError(SendError):
    """TikTok refused this destination's token or permission for longer than ``destination_fault_after_s`` while
    other destinations were delivered. Replayable with ``dlq replay --to tiktok`` once the token is fixed."""

    reason = "destination_auth_failed"


class EventEncodingError(SendError):
    """The event holds a value JSON cannot carry; a mapping bug, caught before it could fail a whole batch."""

    reason = "encoding_error"
