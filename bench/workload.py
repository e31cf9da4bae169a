"""Realistic reference events for the benchmarks and the fault suite, and the producer that preloads them.

The mix is what a shop with a CRM publishes: paid and placed orders (one to three line items), web-form leads and
CRM stage changes, each with a distinct fictitious customer (so no hash is computed twice), ~2% with marketing
consent denied. Every event carries a unique ``event_id`` (the id shared with the Pixel), so the fault suite can
account for each one by id. Values are Confluent-framed Avro with ids from a schema registry (or plain Avro).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import Producer

from consumer.demo.samples import encode, reference_schema_path
from consumer.kafka.client import local_config

TOPICS: Mapping[str, str] = {
    "orders.paid": "com.example.commerce.OrderPaid",
    "orders.placed": "com.example.commerce.OrderPlaced",
    "leads.submitted": "com.example.crm.LeadSubmitted",
    "crm.lead-status": "com.example.crm.LeadStatusChanged",
}
"""The topics of ``config/relay.example.yaml`` and the schema each carries."""

MIX: Mapping[str, float] = {"orders.paid": 0.45, "orders.placed": 0.25, "leads.submitted": 0.2, "crm.lead-status": 0.1}
DENIED_SHARE = 0.02
PARTITIONS = 4
QUIET = 2
"""librdkafka log level of the bench's own clients: connection errors during a broker restart are the point of
that scenario, not news; failures that matter surface as exceptions (an unacknowledged produce)."""

_PRODUCTS = [
    ("SKU-TEE-01", "Logo T-shirt", "apparel", "Example", Decimal("19.90")),
    ("SKU-MUG-02", "Mug", "home", None, Decimal("12.00")),
    ("SKU-CAP-03", "Cap", "apparel", "Example", Decimal("24.50")),
    ("SKU-BAG-04", "Tote bag", "accessories", "Example", Decimal("35.00")),
    ("SKU-SOCK-05", "Socks (3 pairs)", "apparel", None, Decimal("9.99")),
]
_GRANTED = {"marketing": "GRANTED", "analytics": "GRANTED", "limited_data_use": False}
_DENIED = {"marketing": "DENIED", "analytics": "GRANTED", "limited_data_use": None}


@dataclass(frozen=True, slots=True)
class Event:
    """One produced event: where it goes, its unique id, the consent decision, and its Kafka key and value."""

    topic: str
    event_id: str
    denied: bool
    key: bytes
    value: bytes


Encoder = Callable[[str, Mapping[str, Any]], bytes]
"""(full schema name, record) -> Kafka value bytes."""


def _customer(n: int) -> dict[str, Any]:
    return {
        "customer_id": f"cust-{n}",
        "email": f" Customer.{n}@Example.com ",
        "phone": f"+1 415-555-{n % 10_000:04d}",
        "first_name": "Jane",
        "last_name": f"Doe{n % 997}",
        "city": "San Francisco",
        "region": "CA",
        "postal_code": f"{94000 + n % 1000}",
        "country": "US",
    }


def _context(n: int) -> dict[str, Any]:
    return {
        "ip": f"203.0.113.{n % 250 + 1}",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "ttclid": None,
        "ttp": f"ttp-{n}",
        "page_url": f"https://shop.example.com/checkout/thank-you?ttclid=E.C.P.click-{n}",
        "referrer": "https://www.tiktok.com/",
        "locale": "en-US",
    }


def _items(rng: random.Random) -> list[dict[str, Any]]:
    chosen = rng.sample(_PRODUCTS, rng.randint(1, 3))
    return [
        {"sku": sku, "name": name, "category": cat, "brand": brand, "quantity": rng.randint(1, 3), "unit_price": price}
        for sku, name, cat, brand, price in chosen
    ]


def make_record(topic: str, n: int, occurred_at: datetime, rng: random.Random, denied: bool = False) -> dict[str, Any]:
    """A distinct record for ``topic``: event number ``n`` with its own customer, ids and (for orders) items, every
    field of the topic's schema set (records are built whole rather than copied from a sample: it is 3x faster)."""
    consent = _DENIED if denied else _GRANTED
    event_id = f"evt-{n}"
    common: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": occurred_at,
        "store": "main" if n % 5 else "outlet",
        "customer": _customer(n),
        "consent": consent,
    }
    if topic in ("orders.paid", "orders.placed"):
        items = _items(rng)
        total = sum((item["unit_price"] * item["quantity"] for item in items), Decimal("0.00"))
        common.update(order_id=f"ord-{n}", currency="USD", total=total, items=items, context=_context(n))
        if topic == "orders.paid":
            common.update(customer_segment=rng.choice(["new", "returning", "vip"]), predicted_ltv=rng.random() * 500)
    elif topic == "leads.submitted":
        common.update(
            store="main",
            lead_id=f"lead-{n}",
            form_id="demo-request",
            context=_context(n),
            attributes={"lead_score": str(rng.randint(1, 100)), "plan": rng.choice(["free", "pro"])},
        )
    else:
        stage = rng.choice(["QUALIFIED", "CONVERTED"])
        common.update(
            store="main",
            lead_id=f"lead-{n}",
            stage=stage,
            previous_stage="CONTACTED" if stage == "QUALIFIED" else "QUALIFIED",
            value=Decimal("1200.00"),
            currency="USD",
        )
    return common


def generate(
    count: int, encoder: Encoder, seed: int = 7, start: int = 0, now: datetime | None = None
) -> Iterator[Event]:
    """``count`` events numbered from ``start`` (event_id ``evt-<n>``), deterministic for a seed; each occurred up to
    an hour before ``now``."""
    rng = random.Random(seed + start)
    base = now or datetime.now(UTC)
    topics, weights = list(MIX), list(MIX.values())
    for n in range(start, start + count):
        topic = rng.choices(topics, weights)[0]
        denied = rng.random() < DENIED_SHARE
        occurred_at = base - timedelta(seconds=rng.random() * 3600)
        record = make_record(topic, n, occurred_at, rng, denied)
        yield Event(topic, record["event_id"], denied, f"k-{n}".encode(), encoder(TOPICS[topic], record))


def registry_encoder(register: Callable[[str, str], int]) -> Encoder:
    """An encoder writing Confluent framing; ``register(subject, schema_text) -> id`` is called once per schema."""
    ids: dict[str, int] = {}

    def encode_framed(schema: str, record: Mapping[str, Any]) -> bytes:
        schema_id = ids.get(schema)
        if schema_id is None:
            topic = next(t for t, s in TOPICS.items() if s == schema)
            schema_id = ids[schema] = register(f"{topic}-value", reference_schema_path(schema).read_text())
        return encode(schema, record, schema_id=schema_id)

    return encode_framed


def new_producer(bootstrap_servers: str) -> Producer:
    """A producer tuned for preloading: large batches, no compression, acks=all and idempotent."""
    return Producer(
        {
            **local_config(bootstrap_servers),
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 500_000,
            "log_level": QUIET,
        }
    )


def produce(producer: Producer, events: Iterator[Event], on_sent: Callable[[Event], None] | None = None) -> int:
    """Produce every event (waiting when the local queue is full), flush, and return how many were produced."""
    produced = 0
    for event in events:
        while True:
            try:
                producer.produce(event.topic, event.value, event.key)
                break
            except BufferError:
                producer.poll(0.05)
        if on_sent is not None:
            on_sent(event)
        produced += 1
        if produced % 10_000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} events not acknowledged by the broker")
    return produced


def produce_at_rate(producer: Producer, events: Iterator[Event], rate_per_s: float) -> dict[str, float]:
    """Produce at a steady ``rate_per_s`` (in 10 ms ticks); return each event_id's produce wall-clock time."""
    sent_at: dict[str, float] = {}
    tick_s = 0.01
    per_tick = max(1, round(rate_per_s * tick_s))
    next_tick = time.perf_counter()
    batch: list[Event] = []
    for event in events:
        batch.append(event)
        if len(batch) < per_tick:
            continue
        _sleep_until(next_tick)
        now = time.time()
        for item in batch:
            producer.produce(item.topic, item.value, item.key)
            sent_at[item.event_id] = now
        producer.poll(0)
        batch.clear()
        next_tick += tick_s
    for item in batch:
        producer.produce(item.topic, item.value, item.key)
        sent_at[item.event_id] = time.time()
    producer.flush(60)
    return sent_at


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
