"""Field paths compiled once at start-up into getter functions, so that mapping an event does no parsing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from consumer.errors import MappingError

Getter = Callable[[Any], Any]
"""Read one field path from a record (or a line item): its value, or ``None`` when any step is null or missing."""


_recording: ContextVar[set[str] | None] = ContextVar("recording_paths", default=None)


@contextmanager
def recording_paths() -> Iterator[set[str]]:
    """The path of every getter compiled in the block: all that a route or rule compiled there reads of a record
    (the decoder converts the logical values under these paths only)."""
    paths: set[str] = set()
    token = _recording.set(paths)
    try:
        yield paths
    finally:
        _recording.reset(token)


def compile_path(path: str) -> Getter:
    """A getter for ``path`` (``customer.email``; a numeric segment indexes an array: ``items.0.sku``).

    A step into a value that is neither a record nor an array (``total.amount`` where ``total`` is a number) is a
    ``MappingError`` naming the path: the route does not fit the record's shape, which silence would hide.
    """
    recorded = _recording.get()
    if recorded is not None:
        recorded.add(path)
    steps = tuple((key, int(key) if key.isdigit() else None) for key in path.split("."))

    def get(value: Any) -> Any:
        for key, index in steps:
            if type(value) is dict:  # decoded records are plain dicts: the fast path
                value = value.get(key)
            elif value is None:
                return None
            elif isinstance(value, Mapping):
                value = value.get(key)
            elif index is not None and isinstance(value, list | tuple):
                value = value[index] if index < len(value) else None
            else:
                raise MappingError(f"field path {path!r}: {key!r} steps into a value that is not a record or array")
        return value

    if len(steps) == 1:
        ((key, _),) = steps

        def get_top_level(value: Any) -> Any:
            return value.get(key) if type(value) is dict else get(value)

        return get_top_level
    if len(steps) == 2:
        (outer, _), (inner, _) = steps

        def get_nested(value: Any) -> Any:
            # hot path: most paths are a field of a nested record (customer.email), both plain dicts
            if type(value) is dict:
                record = value.get(outer)
                if type(record) is dict:
                    return record.get(inner)
            return get(value)

        return get_nested
    return get
