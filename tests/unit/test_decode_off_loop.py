"""Schema-registry fetches run off the event loop: while the registry takes ten seconds to answer, ``/livez`` still
answers, the message waits for its schema, then goes on (against the registry double, with an injected delay)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Callable

from consumer.decode.avro import Decoder
from consumer.decode.settings import DecodeSettings, RegistrySettings, TopicSchemaSettings
from consumer.demo.samples import encode, sample_record
from consumer.model import ConsentWithheld, DomainRecord, Failure, OutboundEvent, Skipped, SourceMessage, SourceRef
from consumer.observability.health import HealthChecks, HealthServer
from consumer.pipeline import Pipeline, Sent
from consumer.sending.job import Report
from consumer.settlement.ledger import Ledger, Position
from tests.registry_double import RegistryDouble
from tests.unit.test_decode_registry import register

REGISTRY_DELAY_S = 10.0
LIVEZ_TIMEOUT_S = 1.0
TOPIC = "orders"


class SkipEverything:
    """A translator for which every record is not a conversion: it settles at once, with no sender or publisher."""

    def translate(self, record: DomainRecord, ref: SourceRef, now_ms: int) -> OutboundEvent | ConsentWithheld | Skipped:
        del record, now_ms
        return Skipped(ref, "test")


class Unused:
    """Sender and publisher: never called in these tests."""

    def send(self, event: OutboundEvent, context: Sent, report: Report[Sent]) -> None:
        raise AssertionError("nothing is sent")

    def dead_letter(self, message: SourceMessage, failure: Failure) -> asyncio.Future[None]:
        raise AssertionError(f"nothing is dead-lettered ({failure.reason})")

    def audit(self, withheld: ConsentWithheld) -> asyncio.Future[None]:
        raise AssertionError("nothing is audited")


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=LIVEZ_TIMEOUT_S) as response:
        status: int = response.status
        return status


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (a test fails by pytest-timeout, not by a timing assertion)."""
    while not condition():
        await asyncio.sleep(0.05)


async def test_livez_answers_while_the_registry_takes_ten_seconds() -> None:
    """Two messages of a schema id not seen yet arrive while the registry takes ten seconds per answer: ``/livez``
    answers within one second meanwhile, both messages wait, one fetch serves both, and once it ends they settle."""
    with RegistryDouble().running() as registry:
        schema_id = register(registry.url, "OrderPaid", 2)
        registry.delay_s = REGISTRY_DELAY_S
        settings = DecodeSettings(
            registry=RegistrySettings(url=registry.url, max_retries=0, timeout_s=3 * REGISTRY_DELAY_S),
            topics={TOPIC: TopicSchemaSettings()},
        )
        decoder = Decoder.from_settings(settings, lambda path: path, {}, fetch_in_background=True)
        health = HealthServer(
            HealthChecks(
                alive=lambda: True, assigned=lambda: True, broker_reachable=lambda: True, sender_ready=lambda: True
            ),
            "127.0.0.1",
            0,
        )
        await health.start()
        ledger = Ledger()
        ledger.assign([(TOPIC, 0)])
        pipeline = Pipeline(decoder, SkipEverything(), Unused(), Unused(), ledger)
        value = encode("OrderPaid", sample_record("OrderPaid", version=2), version=2, schema_id=schema_id)
        try:
            livez = asyncio.get_running_loop().run_in_executor(
                None, http_status, f"http://127.0.0.1:{health.port}/livez"
            )
            pipeline.process([SourceMessage(SourceRef(TOPIC, 0, offset), b"k", value) for offset in (0, 1)])
            assert await livez == 200
            assert pipeline.held == 2
            await eventually(lambda: pipeline.held == 0)
            assert ledger.positions() == [Position(TOPIC, 0, 2)]
            assert registry.lookups_of(f"/schemas/ids/{schema_id}") == 1
        finally:
            pipeline.close()
            decoder.close()
            await health.stop()
