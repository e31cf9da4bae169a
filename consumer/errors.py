"""Error types that several stages raise, in a leaf module so that every layer can import them (only
``consumer.model`` is below it).

Messages name config keys, field paths and environment variable names, never a field's value or a secret: a value
may be PII.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from consumer.model import PermanentError, Stage


class ConfigError(Exception):
    """The configuration is invalid; the message names each bad key."""


def required_env(environ: Mapping[str, str], name: str, key: str) -> str:
    """The secret in environment variable ``name``, which config key ``key`` names; a clear error when unset."""
    value = environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} ({key}) is not set")
    return value


class TranslationError(PermanentError):
    """Base of the errors ``Translator.translate`` raises (stage ``map`` or ``policy``). ``route`` is the name of the
    route that selected the record (``None`` when none did): the pipeline writes it to the dead-letter record."""

    def __init__(self, message: str, route: str | None = None) -> None:
        super().__init__(message)
        self.route = route


class MappingError(TranslationError):
    """The record lacks a field the route needs, or a field path meets a value of the wrong shape."""

    stage: ClassVar[Stage] = Stage.MAP
    reason: ClassVar[str] = "mapping_error"
