"""Why a domain record could not be mapped to a TikTok event (stage ``map``).

Messages name the route's config keys and the record's field paths, never a field's value: a value may be PII.
Their base ``TranslationError`` and ``MappingError`` (which field paths and policy raise too) are in
``consumer.errors``.
"""

from __future__ import annotations

from typing import ClassVar

from consumer.errors import TranslationError
from consumer.model import Stage


class NoRouteError(TranslationError):
    """No route selects this record (its topic, schema name or field values match none)."""

    stage: ClassVar[Stage] = Stage.MAP
    reason: ClassVar[str] = "no_route"


class NoDestinationError(TranslationError):
    """The route's ``event_source_id`` lookup table has no entry (and no default) for the record's key.
    Kept apart from ``mapping_error`` so that an operator can replay exactly these after adding the entry."""

    stage: ClassVar[Stage] = Stage.MAP
    reason: ClassVar[str] = "no_destination"
