"""The consent gate and the ``limited_data_use`` rule: decided from the record, before anything is built to send."""

from __future__ import annotations

from typing import Any, Final, Literal

from consumer.fields.paths import compile_path
from consumer.policy.settings import ConsentSettings, LimitedDataUseSettings

CONSENT_DENIED: Final = "consent_denied"
CONSENT_UNKNOWN: Final = "consent_unknown"
_TRUE_TEXT: Final = frozenset({"TRUE", "YES", "Y", "1"})


def _state_text(value: object) -> str:
    return str(value).strip().upper()


class ConsentGate:
    """Reads a route's consent fields. Any denied field withholds the event; all granted lets it through; anything
    else (null, missing, unrecognised) is unknown and follows ``policy.unknown_consent``."""

    def __init__(self, settings: ConsentSettings, unknown_consent: Literal["deny", "grant"]) -> None:
        self._fields = tuple(compile_path(path) for path in settings.fields)
        self._granted = frozenset(_state_text(value) for value in settings.granted)
        self._denied = frozenset(_state_text(value) for value in settings.denied)
        self._unknown_allowed = unknown_consent == "grant"

    def withheld_reason(self, record: Any) -> str | None:
        """``None`` when the event may be sent, else the audit reason: ``consent_denied`` or ``consent_unknown``."""
        unknown = False
        for read in self._fields:
            value = read(record)
            state = None if value is None else _state_text(value)
            if state in self._denied:
                return CONSENT_DENIED
            if state not in self._granted:
                unknown = True
        if unknown and not self._unknown_allowed:
            return CONSENT_UNKNOWN
        return None


class LimitedDataUseRule:
    """``limited_data_use`` for one event: true when any ``when_any`` field holds a listed value, else the
    record's flag, else the configured default."""

    def __init__(self, settings: LimitedDataUseSettings) -> None:
        self._flag = None if settings.from_ is None else compile_path(settings.from_)
        self._default = settings.default
        self._rules = tuple(
            (compile_path(path), frozenset(str(value) for value in values))
            for path, values in settings.when_any.items()
        )

    def applies(self, record: Any) -> bool:
        """Whether ``limited_data_use`` is set for ``record``."""
        for read, values in self._rules:
            value = read(record)
            if value is not None and str(value) in values:
                return True
        flag = None if self._flag is None else self._flag(record)
        if flag is None:
            return self._default
        return flag if isinstance(flag, bool) else _state_text(flag) in _TRUE_TEXT
