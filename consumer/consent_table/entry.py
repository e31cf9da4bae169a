"""One value of the consent topic as a table entry: pure.

An entry is one int, ``decided_ms << PURPOSE_BITS | denied``: the decision time in Unix milliseconds and one bit
per configured purpose that the subject denies. A small int per subject keeps the table small (see ``table``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from consumer.consent_table.settings import MAX_PURPOSES
from consumer.fields.values import timestamp_ms

PURPOSE_BITS: Final = MAX_PURPOSES
PURPOSE_MASK: Final = (1 << PURPOSE_BITS) - 1
GRANTED: Final = "GRANTED"
DENIED: Final = "DENIED"


class ConsentEntryError(ValueError):
    """A consent value the relay cannot read; the message names the field, never the subject."""


class PurposeBits:
    """The configured purposes, one bit each, in config order."""

    def __init__(self, purposes: Iterable[str]) -> None:
        self._bits = {name: 1 << index for index, name in enumerate(purposes)}

    @property
    def names(self) -> list[str]:
        return list(self._bits)

    def mask(self, purposes: Iterable[str]) -> int:
        """The bits of ``purposes``; a name the table does not keep is a ``ValueError`` (a config error)."""
        mask = 0
        for name in purposes:
            bit = self._bits.get(name)
            if bit is None:
                raise ValueError(f"purpose {name!r} is not in consent_table.purposes ({', '.join(self._bits)})")
            mask |= bit
        return mask

    def entry(self, value: Mapping[str, Any]) -> int:
        """The packed entry of a decoded consent value (``purposes`` map, ``decided_at``); purposes the table does
        not keep are ignored. ``ConsentEntryError`` names what is wrong."""
        purposes = value.get("purposes")
        if not isinstance(purposes, Mapping):
            raise ConsentEntryError("purposes: a map of purpose -> GRANTED | DENIED is required")
        denied = 0
        for name, decision in purposes.items():
            state = str(decision).strip().upper()
            if state not in (GRANTED, DENIED):
                raise ConsentEntryError(f"purposes.{name}: {decision!r} is neither GRANTED nor DENIED")
            if state == DENIED:
                denied |= self._bits.get(name, 0)
        decided_at = value.get("decided_at")
        if decided_at is None:
            raise ConsentEntryError("decided_at: the time of the decision is required")
        try:
            decided_ms = timestamp_ms(decided_at, "ms")
        except (ValueError, ArithmeticError, TypeError) as error:
            raise ConsentEntryError(f"decided_at: {error}") from None
        return decided_ms << PURPOSE_BITS | denied

    @staticmethod
    def decided_ms(entry: int) -> int:
        return entry >> PURPOSE_BITS

    def denied(self, entry: int) -> list[str]:
        """The purposes an entry denies, by name."""
        return [name for name, bit in self._bits.items() if entry & bit]
