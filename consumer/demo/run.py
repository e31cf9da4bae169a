"""The demo: the whole pipeline on this machine, and an account of where every produced event ended.

``run_demo`` takes a running broker, starts the TikTok sandbox and the relay service in this process (the example
config, ``config/relay.example.yaml``, with its topics moved under a fresh namespace so runs never mix), produces
sample web orders, leads and in-app orders (some with consent denied, some malformed, some too old), waits until
each one is accounted for, and returns the summary:

    demo: produced=N delivered=N consent_dropped=N dead_lettered=N lost=0 app_orders=N app_delivered=N

Each column is read from where the outcome lives: the sandbox's accepted event_ids (delivered), the dead-letter
topics' ``__connect.errors.*`` source headers (dead-lettered) and the audit topic's source fields (consent
dropped). ``lost`` counts produced events found in none of them; ``app_orders`` counts those produced to the topics of
app routes (``event_source: app``) and ``app_delivered`` those of them the sandbox accepted. The helpers are shared
with the integration tests.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml
from confluent_kafka import KafkaError, Producer
from pydantic import SecretStr

from consumer.app import RelayService
from consumer.config import parse_config
from consumer.deadletter.record import NotADeadLetterRecordError, parse_context
from consumer.demo.samples import (
    CONSENT_DECISION_SCHEMA,
    encode,
    encode_consent_decision,
    reference_schema_dir,
    sample_record,
)
from consumer.kafka import topics as kafka_topics
from consumer.kafka.bounded import BoundedReader
from consumer.kafka.client import local_config, reader_config
from consumer.kafka.delivery import produce_all
from consumer.model import Header, SourceRef
from consumer.sandbox.server import Sandbox
from consumer.sending.tokens import TokenStore

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
DEMO_TOKEN = "demo-access-token"  # noqa: S105 - the sandbox accepts any non-empty token
ADMIN_TIMEOUT_S = 30.0

DELIVERED = "delivered"
CONSENT_DROPPED = "consent_dropped"
DEAD_LETTERED = "dead_lettered"

DEMO_TOPICS = {"orders.paid": "OrderPaid", "leads.submitted": "LeadSubmitted", "app.orders.paid": "InAppOrderPaid"}
"""The example config's topics the demo writes to, with the reference schema each carries."""


# -- configuration -------------------------------------------------------------------------------------------


def load_example(path: Path = EXAMPLE_CONFIG) -> dict[str, Any]:
    """The example config as data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def isolated_config(
    example: Mapping[str, Any],
    *,
    bootstrap_servers: str,
    track_url: str,
    namespace: str,
    example_dir: Path = EXAMPLE_CONFIG.parent,
) -> dict[str, Any]:
    """The example config pointed at a local broker and sandbox, its topics, group and audit topic moved under
    ``namespace`` (``orders.paid`` -> ``<namespace>.orders.paid``), schema paths made absolute, health on a free
    port. The result is plain data: validate it with ``parse_config`` or write it to a file."""
    config = copy.deepcopy(dict(example))
    rename = {route["topic"]: f"{namespace}.{route['topic']}" for route in config["routes"]}
    for route in config["routes"]:
        route["topic"] = rename[route["topic"]]
    schemas = config.setdefault("schemas", {})
    schemas["topics"] = {
        rename.get(name, name): _absolute(topic, example_dir) for name, topic in schemas.get("topics", {}).items()
    }
    if "reader_schemas" in schemas:
        schemas["reader_schemas"] = [str((example_dir / p).resolve()) for p in schemas["reader_schemas"]]
    config["kafka"] = {
        **config.get("kafka", {}),
        "bootstrap_servers": bootstrap_servers,
        "group_id": f"{namespace}.relay",
    }
    config["tiktok"] = {**config.get("tiktok", {}), "endpoint": track_url, "allow_custom_endpoint": True}
    config["deadletter"] = {**config.get("deadletter", {}), "audit_topic": f"{namespace}.consent-audit"}
    config["observability"] = {**config.get("observability", {}), "http_host": "127.0.0.1", "http_port": 0}
    return config


def _absolute(topic: Mapping[str, Any], base: Path) -> dict[str, Any]:
    out = dict(topic)
    for key in ("writer_schema", "reader_schema"):
        if out.get(key):
            out[key] = str((base / out[key]).resolve())
    return out


def source_topics(config: Mapping[str, Any]) -> list[str]:
    """The routes' topics, each once, in config order."""
    return list(dict.fromkeys(route["topic"] for route in config["routes"]))


def app_topics(config: Mapping[str, Any]) -> list[str]:
    """The topics of the app routes (``event_source: app``), each once, in config order."""
    return list(dict.fromkeys(route["topic"] for route in config["routes"] if route.get("event_source") == "app"))


def create_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int, *, compacted: bool = False) -> None:
    """Create ``topics`` (each with ``partitions``; log-compacted if asked), waiting until they exist."""
    spec = kafka_topics.TopicSpec(partitions, kafka_topics.COMPACTED if compacted else {})
    admin = kafka_topics.admin_client(local_config(bootstrap_servers))
    kafka_topics.create_topics(admin, dict.fromkeys(topics, spec), timeout_s=ADMIN_TIMEOUT_S)


# -- sample events -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleMessage:
    """One message to produce, with the outcome it should end in."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, str | bytes | None]]
    event_id: str | None
    expect: str


@dataclass(frozen=True, slots=True)
class Produced:
    """A produced message: where it landed, its event_id (None when malformed) and its expected outcome."""

    ref: SourceRef
    event_id: str | None
    expect: str


GRANTED = "granted"
DENIED = "consent_denied"
MALFORMED = "malformed"
TOO_OLD = "too_old"
EXPECTED = {GRANTED: DELIVERED, DENIED: CONSENT_DROPPED, MALFORMED: DEAD_LETTERED, TOO_OLD: DEAD_LETTERED}
"""Each kind of sample and the outcome it must end in."""


def demo_kind(index: int) -> str:
    """The demo's mix: one in ten consent denied, one in ten not Avro at all, one in twenty 30 days old."""
    if index % 10 == 3:
        return DENIED
    if index % 10 == 7:
        return MALFORMED
    if index % 20 == 9:
        return TOO_OLD
    return GRANTED


def sample_messages(namespace: str, count: int, now: datetime | None = None) -> list[SampleMessage]:
    """``count`` messages of the demo's mix (``demo_kind``), taking the topics of ``DEMO_TOPICS`` in turn."""
    moment = now or datetime.now(UTC)
    names = list(DEMO_TOPICS)
    out = []
    for index in range(count):
        source = names[index % len(names)]
        topic, event_id = f"{namespace}.{source}", f"{namespace}-{index}"
        # Three topics in turn and the mix's periods (10, 20) share no factor: each topic gets the whole mix.
        out.append(sample_message(topic, DEMO_TOPICS[source], event_id, demo_kind(index), moment))
    return out


def sample_message(topic: str, schema: str, event_id: str, kind: str, now: datetime) -> SampleMessage:
    """One message of ``kind`` for a reference schema (an order or ``LeadSubmitted``), keyed by its event_id,
    with two headers (one binary) that a dead-letter record must keep."""
    headers: list[tuple[str, str | bytes | None]] = [("sample-kind", kind.encode()), ("trace", uuid.uuid4().bytes)]
    key = event_id.encode()
    if kind == MALFORMED:
        return SampleMessage(topic, key, b"\x00not avro " + key, headers, None, DEAD_LETTERED)
    overrides: dict[str, Any] = {"event_id": event_id, "occurred_at": now}
    overrides["order_id" if "Order" in schema else "lead_id"] = f"id-{event_id}"
    if kind == DENIED:
        overrides["consent"] = {"marketing": "DENIED", "analytics": "GRANTED", "limited_data_use": None}
    elif kind == TOO_OLD:
        overrides["occurred_at"] = now - timedelta(days=30)
    value = encode(schema, sample_record(schema, **overrides))
    return SampleMessage(topic, key, value, headers, event_id, EXPECTED[kind])


def order_about(topic: str, event_id: str, customer_id: str, occurred_at: datetime) -> SampleMessage:
    """A granted ``OrderPaid`` about customer ``customer_id`` (the subject a consent table keys it by)."""
    record = sample_record("OrderPaid", event_id=event_id, occurred_at=occurred_at, order_id=f"id-{event_id}")
    record["customer"] = {**record["customer"], "customer_id": customer_id}
    headers: list[tuple[str, str | bytes | None]] = [("sample-kind", GRANTED.encode())]
    return SampleMessage(topic, event_id.encode(), encode("OrderPaid", record), headers, event_id, DELIVERED)


def produce(bootstrap_servers: str, messages: Sequence[SampleMessage]) -> list[Produced]:
    """Produce ``messages`` (idempotent, acks=all) and return where each landed."""
    producer = Producer({**local_config(bootstrap_servers), "enable.idempotence": True, "linger.ms": 5})
    landed: list[Produced] = []

    def report(message: SampleMessage) -> Any:
        def on_delivery(error: KafkaError | None, record: Any) -> None:
            if error is not None:
                raise RuntimeError(f"produce failed: {error.str()}")
            ref = SourceRef(record.topic(), record.partition(), record.offset())
            landed.append(Produced(ref, message.event_id, message.expect))

        return on_delivery

    for message in messages:
        producer.produce(
            message.topic, value=message.value, key=message.key, headers=message.headers, on_delivery=report(message)
        )
        producer.poll(0)
    remaining = producer.flush(ADMIN_TIMEOUT_S)
    if remaining:
        raise RuntimeError(f"{remaining} sample messages were not acknowledged")
    return landed


# -- where events ended ----------------------------------------------------------------------------------------


class OutcomeReader:
    """Reads dead-letter and audit topics from the beginning, incrementally, collecting the source refs found."""

    def __init__(self, bootstrap_servers: str, dead_letter_topics: Sequence[str], audit_topic: str, prefix: str):
        self._prefix = prefix
        self._audit_topic = audit_topic
        self._topics = [*dead_letter_topics, audit_topic]
        group = f"outcome-reader-{uuid.uuid4().hex[:8]}"
        self._reader = BoundedReader(reader_config(local_config(bootstrap_servers), group))
        self._positions: dict[str, dict[int, int]] = {topic: {} for topic in self._topics}
        self.dead_lettered: dict[SourceRef, list[Header]] = {}
        self.audited: dict[SourceRef, dict[str, Any]] = {}

    def poll(self) -> None:
        """Read whatever arrived since the last call (up to the ends the topics have now)."""
        existing = self._reader.existing()
        ranges = [
            r
            for topic in self._topics
            if topic in existing
            for r in self._reader.to_end(topic, existing[topic], self._positions[topic])
        ]
        for batch in self._reader.read(ranges):
            for message in batch:
                self._read(message.topic() or "", message.value(), message.headers() or [])
        for r in ranges:
            self._positions[r.topic][r.partition] = max(r.start, r.end)

    def _read(self, topic: str, value: bytes | None, headers: Any) -> None:
        if topic == self._audit_topic:
            record = orjson.loads(value or b"{}")
            ref = SourceRef(record["source_topic"], record["source_partition"], record["source_offset"])
            self.audited[ref] = record
            return
        try:
            context = parse_context(headers, self._prefix)
        except NotADeadLetterRecordError:
            return
        self.dead_lettered[context.source] = headers

    def close(self) -> None:
        self._reader.close()


@dataclass(frozen=True, slots=True)
class Summary:
    """How many produced events ended in each place; ``lost`` ended in none. ``app_orders`` of them were produced
    for app routes, ``app_delivered`` of those were delivered."""

    produced: int
    delivered: int
    consent_dropped: int
    dead_lettered: int
    lost: int
    app_orders: int = 0
    app_delivered: int = 0

    def line(self) -> str:
        return (
            f"demo: produced={self.produced} delivered={self.delivered} consent_dropped={self.consent_dropped} "
            f"dead_lettered={self.dead_lettered} lost={self.lost} app_orders={self.app_orders} "
            f"app_delivered={self.app_delivered}"
        )


def account(
    produced: Sequence[Produced],
    delivered_ids: set[str],
    dead_lettered: Iterable[SourceRef],
    audited: Iterable[SourceRef],
    app_topics: Collection[str] = (),
) -> Summary:
    """Count each produced event in every place it is found; ``lost`` is the number found nowhere. Events produced
    to ``app_topics`` are counted as app orders too."""
    dead, audit = set(dead_lettered), set(audited)
    in_sandbox = {p.ref for p in produced if p.event_id is not None and p.event_id in delivered_ids}
    refs = {p.ref for p in produced}
    app_refs = {ref for ref in refs if ref.topic in app_topics}
    return Summary(
        produced=len(produced),
        delivered=len(in_sandbox),
        consent_dropped=len(audit & refs),
        dead_lettered=len(dead & refs),
        lost=len(refs - in_sandbox - dead - audit),
        app_orders=len(app_refs),
        app_delivered=len(app_refs & in_sandbox),
    )


def sandbox_event_ids(sandbox: Sandbox) -> set[str]:
    """Every event_id the sandbox accepted, across event sources."""
    sources = {row["event_source_id"] for row in sandbox.store.counts()["by_event"]}
    return {event_id for source in sources for event_id in sandbox.store.event_ids(source)}


# -- the consent table -------------------------------------------------------------------------------------------

CONSENT_PURPOSES = ["marketing", "analytics"]


def with_consent_table(config: Mapping[str, Any], consent_topic: str, **table: Any) -> dict[str, Any]:
    """``config`` (plain data, e.g. from ``isolated_config``) with the consent table on: ``consent_topic`` read as
    plain Avro of ``schemas/consent_decision.avsc``, and the ``order-paid`` route's subject the customer id."""
    out = copy.deepcopy(dict(config))
    out["consent_table"] = {"topic": consent_topic, "purposes": CONSENT_PURPOSES, **table}
    schema = reference_schema_dir() / CONSENT_DECISION_SCHEMA
    out.setdefault("schemas", {}).setdefault("topics", {})[consent_topic] = {
        "format": "avro",
        "writer_schema": str(schema),
    }
    for route in out["routes"]:
        if route["name"] == "order-paid":
            route["consent_subject"] = {"from": "customer.customer_id", "purposes": ["marketing"]}
    return out


def publish_consent(
    bootstrap_servers: str, topic: str, decisions: Mapping[str, Mapping[str, str] | None], decided_at: datetime
) -> None:
    """Publish each subject's latest decision (purpose -> GRANTED | DENIED; ``None`` is a tombstone), keyed by the
    subject id, as a consent-management service does; returns once Kafka acknowledged every record."""
    producer = Producer({**local_config(bootstrap_servers), "enable.idempotence": True, "acks": "all"})
    records = (
        (subject.encode(), None if purposes is None else encode_consent_decision(purposes, decided_at))
        for subject, purposes in decisions.items()
    )
    produce_all(producer, topic, records, ADMIN_TIMEOUT_S)


# -- the demo ----------------------------------------------------------------------------------------------------


async def run_demo(
    bootstrap_servers: str,
    events: int = 200,
    timeout_s: float = 90.0,
    partitions: int = 3,
    progress: Callable[[str], None] = lambda _line: None,
) -> Summary:
    """Run sandbox, service and sample events together; return the account once every event is found (or the
    timeout passed). ``progress`` receives a line per step."""
    namespace = f"demo-{uuid.uuid4().hex[:8]}"
    async with Sandbox() as sandbox:
        data = isolated_config(
            load_example(), bootstrap_servers=bootstrap_servers, track_url=sandbox.track_url, namespace=namespace
        )
        config = parse_config(data, EXAMPLE_CONFIG.parent)
        topics = source_topics(data)
        await asyncio.to_thread(create_topics, bootstrap_servers, topics, partitions)
        progress(f"demo: sandbox at {sandbox.track_url}, topics {', '.join(topics)}")
        service = RelayService(config, TokenStore(SecretStr(DEMO_TOKEN)))
        stop = asyncio.Event()
        running = asyncio.create_task(service.run(stop))
        try:
            produced = await asyncio.to_thread(produce, bootstrap_servers, sample_messages(namespace, events))
            progress(f"demo: produced {len(produced)} events; waiting for every outcome")
            reader = await asyncio.to_thread(
                OutcomeReader,
                bootstrap_servers,
                [config.deadletter.dead_letter_topic(t) for t in topics],
                config.deadletter.audit_topic,
                config.deadletter.header_prefix,
            )
            try:
                deadline = time.monotonic() + timeout_s
                summary = await _await_outcomes(reader, sandbox, produced, deadline, running, apps=app_topics(data))
            finally:
                reader.close()
        finally:
            stop.set()
            await running
    return summary


async def _await_outcomes(
    reader: OutcomeReader,
    sandbox: Sandbox,
    produced: Sequence[Produced],
    deadline: float,
    running: asyncio.Task[None],
    *,
    apps: Collection[str],
) -> Summary:
    while True:
        await asyncio.to_thread(reader.poll)
        summary = account(produced, sandbox_event_ids(sandbox), reader.dead_lettered, reader.audited, apps)
        if summary.lost == 0 or time.monotonic() > deadline or running.done():
            return summary
        await asyncio.sleep(0.5)
