"""The TikTok Events API request body (pure): each event encoded once, joined under its destination's envelope, with
each event's bookkeeping beside the body (never inside it).

Each event is encoded to JSON once, when it is submitted; a body is the destination's envelope around the
events' bytes joined by commas. So the byte cap is exact, and retrying or splitting a batch never re-encodes an
event: a split batch's halves are new joins of the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

import orjson

from consumer.model import Destination, TikTokEvent

T = TypeVar("T")

ENVELOPE_RESERVE_BYTES = 1024
"""Bytes of a body kept for its envelope (``event_source``, ids, ``test_event_code``, ``partner_name``): the batcher
caps the events' bytes at ``max_batch_bytes`` minus this."""

SEPARATOR_BYTES = 1  # the comma between two events in ``data``


def _json_default(value: object) -> object:
    # Decimal is not native to orjson; TikTok wants JSON numbers for value and price.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_event(event: TikTokEvent) -> bytes:
    """The event's JSON bytes, as they appear in ``data``; raises ``TypeError`` for a value JSON cannot carry."""
    encoded = orjson.dumps(event.to_json(), default=_json_default)
    # orjson's result keeps its whole write buffer (kilobytes); every unsettled event holds its payload until it
    # settles, so an exact-size copy keeps memory bounded by the payloads themselves under a backlog.
    return bytes(memoryview(encoded))


@dataclass(frozen=True, slots=True)
class TrackRequest(Generic[T]):
    """One request: ``entries[i]`` is the bookkeeping of ``data[i]`` in ``body``."""

    destination: Destination
    body: bytes
    entries: Sequence[T]


class RequestEncoder:
    """Builds bodies; caches each destination's envelope. ``test_event_code`` applies to destinations that set
    none; ``partner_name`` to every request."""

    __slots__ = ("_partner_name", "_prefixes", "_test_event_code")

    def __init__(self, test_event_code: str | None = None, partner_name: str | None = None) -> None:
        self._test_event_code = test_event_code
        self._partner_name = partner_name
        self._prefixes: dict[Destination, bytes] = {}

    def envelope(self, destination: Destination) -> dict[str, str]:
        """The body's top-level fields other than ``data``."""
        head = {"event_source": destination.event_source.value, "event_source_id": destination.event_source_id}
        test_event_code = destination.test_event_code or self._test_event_code
        if test_event_code:
            head["test_event_code"] = test_event_code
        if self._partner_name:
            head["partner_name"] = self._partner_name
        return head

    def build(self, destination: Destination, entries: Sequence[T], payloads: Sequence[bytes]) -> TrackRequest[T]:
        """The request carrying ``payloads`` (encoded events) for ``destination``, with ``entries`` beside them."""
        prefix = self._prefixes.get(destination)
        if prefix is None:
            prefix = orjson.dumps(self.envelope(destination))[:-1] + b',"data":['
            self._prefixes[destination] = prefix
        return TrackRequest(destination, prefix + b",".join(payloads) + b"]}", entries)
