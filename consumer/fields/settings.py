"""How a route's config names record fields and constants: the building blocks of the route settings of mapping,
policy and the consent table.

A field path is dot-separated field names (``customer.email``); a numeric segment indexes an array
(``items.0.sku``). Shorthands: a bare string where a block is expected means ``{from: <path>}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

Scalar = str | int | float | bool
"""A constant a route gives in its config (a property value, a consent value, a match value)."""


def _check_path(path: str) -> str:
    segments = path.split(".")
    if not path or any(not segment or segment != segment.strip() for segment in segments):
        raise ValueError(f"{path!r} is not a field path (dot-separated field names, e.g. customer.email)")
    return path


FieldPath = Annotated[str, AfterValidator(_check_path)]
"""A field path as the config gives it, checked at start-up; ``consumer.fields.paths.compile_path`` reads it."""


def path_shorthand(data: Any) -> Any:
    """A bare string stands for ``{from: <string>}``."""
    return {"from": data} if isinstance(data, str) else data


def as_list(data: Any) -> Any:
    """A bare string stands for a list of that one string."""
    return [data] if isinstance(data, str) else data


class RouteBlock(BaseModel):
    """Base of the blocks of a route: frozen, unknown keys refused, ``from`` accepted as the alias of ``from_``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
