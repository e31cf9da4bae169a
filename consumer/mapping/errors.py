"""Why a domain record could not be mapped to a TikTok event (stage ``map``).

Messages name the route's config keys and the record's field paths, never a field's value: a value may be PII.
"""

from __future__ import annotations

from typing import ClassVar

from consumer.model import PermanentError, Stage


class TranslationError(PermanentError):
    """Base of the errors ``Translator.translate`` raises. ``route`` is the name of the route that selected the
    record (``None`` when none did): the pipeline writes it to the dead-letter record."""

    def __init__(self, message: str, route: str | None = None) -> None:
        super().__init__(message)
        self.route = route


class NoRouteError(TranslationError):
    """No route selects this record (its topic, schema name or field values match none)."""

    stage: ClassVar[Stage] = Stage.MAP
    reason: ClassVar[str] = "no_route"


class MappingError(TranslationError):
    """The record lacks a field the route needs, or a field path meets a value of the wrong shape."""

    stage: ClassVar[Stage] = Stage.MAP
    reason: ClassVar[str] = "mapping_error"


class NoDestinationError(TranslationError):
    """The route's ``event_source_id`` lookup table has no entry (and no default) for the record's key.
    Kept apart from ``mapping_error`` so that an operator can replay exactly these after adding the entry."""

    stage: ClassVar[Stage] = Stage.MAP
    reason: ClassVar[str] = "no_destination"
