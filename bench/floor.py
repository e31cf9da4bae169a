"""The CPU floor: the service's own per-event work (decode, map + policy with normalisation and hashing, JSON
encoding) in a tight loop, with no Kafka, no HTTP, no asyncio. What the service spends above this per event is the
cost of its I/O and bookkeeping.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.workload import Event
from consumer.config import RelayConfig
from consumer.deadletter.record import audit_record
from consumer.decode.avro import Decoder
from consumer.mapping.translator import Translation, Translator
from consumer.model import ConsentWithheld, OutboundEvent, SourceMessage, SourceRef
from consumer.sending.body import encode_event
from consumer.triage import Failed, Held, triage


@dataclass(frozen=True, slots=True)
class FloorResult:
    """CPU seconds of the loop, events processed, and how they ended."""

    cpu_s: float
    events: int
    outbound: int
    withheld: int

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6 if self.events else 0.0


def messages_of(events: Sequence[Event]) -> list[SourceMessage]:
    """The events as the intake hands them over (offsets are positions in the list)."""
    return [
        SourceMessage(SourceRef(event.topic, 0, offset), event.key, event.value, (), None)
        for offset, event in enumerate(events)
    ]


def translate_all(
    config: RelayConfig, messages: Sequence[SourceMessage], now_ms: int
) -> list[Translation | Failed | Held]:
    """Triage every message as the service does (no timing): the events the per-event reference sends."""
    translator = Translator(config.translation)
    decoder = Decoder.from_settings(config.schemas, config.resolve_path, reads=translator.field_paths)
    try:
        return [triage(decoder, translator.translate, m, now_ms) for m in messages]
    finally:
        decoder.close()


class FloorLoop:
    """The floor's stages built once from a config: the decoder and the translator the service would build."""

    def __init__(self, config: RelayConfig) -> None:
        self.translator = Translator(config.translation)
        self.decoder = Decoder.from_settings(config.schemas, config.resolve_path, reads=self.translator.field_paths)

    def warm_up(self, messages: Sequence[SourceMessage]) -> None:
        """Decode ``messages`` so the writer schemas are fetched from the registry before anything is measured."""
        for message in messages:
            self.decoder.decode(message)

    def run(self, messages: Sequence[SourceMessage], now_ms: int) -> tuple[int, int]:
        """Triage (decode + translate) and encode every message; return (events to send, events withheld)."""
        outbound = withheld = 0
        decoder, translate = self.decoder, self.translator.translate
        for message in messages:
            result = triage(decoder, translate, message, now_ms)
            if isinstance(result, OutboundEvent):
                encode_event(result.event)
                outbound += 1
            elif isinstance(result, ConsentWithheld):
                audit_record(result)
                withheld += 1
        return outbound, withheld

    def close(self) -> None:
        self.decoder.close()


def measure_floor(config: RelayConfig, messages: Sequence[SourceMessage], now_ms: int) -> FloorResult:
    """Decode + translate + encode every message, timing only the loop's process CPU time.

    One warm-up pass over the first messages fetches the writer schemas from the registry first, so the timed loop
    does no I/O."""
    loop = FloorLoop(config)
    try:
        loop.warm_up(messages[:100])
        started = time.process_time()
        outbound, withheld = loop.run(messages, now_ms)
        cpu_s = time.process_time() - started
    finally:
        loop.close()
    return FloorResult(cpu_s, len(messages), outbound, withheld)
