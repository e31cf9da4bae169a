"""Why a mapped event breaks TikTok's rules and may not be sent (stage ``policy``)."""

from __future__ import annotations

from typing import ClassVar

from consumer.errors import TranslationError
from consumer.model import Stage


class EventValidationError(TranslationError):
    """A value TikTok would reject: a non-numeric ``value`` or ``price``, a currency outside ISO 4217, a ``crm``
    event without ``lead_id``."""

    stage: ClassVar[Stage] = Stage.POLICY
    reason: ClassVar[str] = "validation_error"


class EventTooOldError(TranslationError):
    """The event happened longer ago than ``policy.max_event_age``."""

    stage: ClassVar[Stage] = Stage.POLICY
    reason: ClassVar[str] = "event_too_old"


class EventInFutureError(TranslationError):
    """The event's time is further ahead of the clock than ``policy.max_future_skew``."""

    stage: ClassVar[Stage] = Stage.POLICY
    reason: ClassVar[str] = "event_in_future"
