"""The original event of a dead-letter record, read with the current config: decoded, routed, and its event time.

Inspect shows it (masked), replay filters on its event time and checks the age window with it, and a direct replay
sends it. Reading uses the service's own decoder and route table, so it sees what the service would see now, after
a fix. A record that still cannot be decoded or routed is an ``OriginalEvent`` with a ``problem`` and no event time.
"""

from __future__ import annotations

from dataclasses import dataclass

from consumer.config import RelayConfig
from consumer.decode.avro import Decoder
from consumer.errors import ConfigError
from consumer.fields.paths import Getter, compile_path
from consumer.fields.values import timestamp_ms
from consumer.mapping.translator import Translator
from consumer.model import DomainRecord, PermanentError, SourceMessage


@dataclass(frozen=True, slots=True)
class OriginalEvent:
    """A source message and what the current config makes of it. ``problem`` says why ``record`` or ``event_ms``
    is missing (a decode or routing error, as the pipeline would report it)."""

    message: SourceMessage
    record: DomainRecord | None = None
    route: str | None = None
    event_ms: int | None = None
    problem: PermanentError | ConfigError | None = None

    @property
    def summary(self) -> str:
        """What the current config makes of the record, in a few words."""
        if self.problem is None:
            return f"decodes and routes to {self.route}"
        return f"{getattr(self.problem, 'reason', 'config_error')}: {self.problem}"


class OriginalReader:
    """Decodes source messages and reads their event time the way the routes of ``config`` do."""

    def __init__(self, config: RelayConfig, decoder: Decoder, translator: Translator) -> None:
        self._decoder = decoder
        self._translator = translator
        self._times: dict[str, tuple[Getter, str]] = {
            route.name: (compile_path(route.event_time.from_), route.event_time.unit) for route in config.routes
        }

    def read(self, message: SourceMessage) -> OriginalEvent:
        """Decode ``message`` and read its event time; a registry outage (``TransientError``) propagates."""
        try:
            record = self._decoder.decode(message)
        except (PermanentError, ConfigError) as error:
            return OriginalEvent(message, problem=error)
        try:
            route = self._translator.select(record, message.ref.topic)
            read, unit = self._times[route.name]
            raw = read(record.value)
            event_ms = None if raw is None else timestamp_ms(raw, unit)
        except PermanentError as error:
            return OriginalEvent(message, record, getattr(error, "route", None), problem=error)
        except ValueError:
            return OriginalEvent(message, record, route.name)  # an unreadable time: the translator will say so
        return OriginalEvent(message, record, route.name, event_ms)
