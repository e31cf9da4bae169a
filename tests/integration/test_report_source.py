"""`tiktok-relay report` against the real broker: the window read, and the coverage of sample OrderPaid events
decoded and mapped by the service's own decoder and translator (config/relay.example.yaml's order-paid route)."""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer
from fastavro import parse_schema, schemaless_writer

from consumer.cli import build_parser
from consumer.commands import report
from consumer.kafka.client import local_config
from consumer.report.source import read_window
from consumer.report.window import Window
from tests.integration.conftest import TopicFactory

ROOT = Path(__file__).resolve().parents[2]
ORDER_PAID = ROOT / "schemas" / "order_paid.v2.avsc"
HOUR_MS = 3_600_000


def order_paid(index: int, occurred_at: datetime) -> dict[str, Any]:
    """Sample order ``index`` of 50. Its identifiers follow fixed rules so the expected coverage can be counted:
    a phone on every 4th order (orders 2 and 3 have one that cannot be parsed), a Pixel event_id except on every
    5th, a ttclid in the landing URL of every 8th, marketing consent denied on every 10th (9, 19, ...)."""
    phone = f"+1 415 555 01{index:02d}" if index % 4 == 0 else "12" if index in (2, 3) else None
    landing = f"https://shop.example/landing?ttclid=E.C.P.{index}" if index % 8 == 0 else "https://shop.example/"
    return {
        "event_id": f"pixel-{index}" if index % 5 else None,
        "occurred_at": occurred_at,
        "order_id": f"o-{index}",
        "store": "main",
        "currency": "EUR",
        "total": Decimal("59.90"),
        "items": [
            {
                "sku": "SKU-1",
                "name": "Mug",
                "category": None,
                "brand": None,
                "quantity": 2,
                "unit_price": Decimal("29.95"),
            }
        ],
        "customer": {
            "customer_id": f"c-{index}",
            "email": f"customer{index}@example.com",
            "phone": phone,
            "first_name": None,
            "last_name": None,
            "city": None,
            "region": None,
            "postal_code": None,
            "country": "DE",
        },
        "context": {
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "ttclid": None,
            "ttp": f"ttp-{index}",
            "page_url": landing,
            "referrer": None,
            "locale": "de-DE",
        },
        "consent": {
            "marketing": "DENIED" if index % 10 == 9 else "GRANTED",
            "analytics": "GRANTED",
            "limited_data_use": None,
        },
        "customer_segment": None,
        "predicted_ltv": None,
    }


def publish_sample_orders(producer: Producer, topic: str, timestamp_ms: int) -> None:
    """50 sample orders at ``timestamp_ms`` (orders 0 and 1 happened 8 days earlier: too old to send) and one
    value that is not Avro at all."""
    schema = parse_schema(json.loads(ORDER_PAID.read_text()))
    message_time = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    for index in range(50):
        occurred = message_time - (timedelta(days=8) if index in (0, 1) else timedelta(minutes=1))
        buffer = io.BytesIO()
        schemaless_writer(buffer, schema, order_paid(index, occurred))
        producer.produce(topic, key=f"o-{index}".encode(), value=buffer.getvalue(), timestamp=timestamp_ms)
    producer.produce(topic, key=b"junk", value=b"\x07not avro", timestamp=timestamp_ms)
    producer.flush(30)


def write_config(tmp_path: Path, bootstrap_servers: str, topic: str) -> Path:
    """config/relay.example.yaml's order-paid route, reading ``topic`` on the test broker."""
    example = yaml.safe_load((ROOT / "config" / "relay.example.yaml").read_text())
    route = next(route for route in example["routes"] if route["name"] == "order-paid")
    config = {
        "kafka": {"bootstrap_servers": bootstrap_servers},
        "schemas": {"topics": {topic: {"format": "avro", "writer_schema": str(ORDER_PAID)}}},
        "policy": example["policy"],
        "routes": [{**route, "topic": topic}],
    }
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_read_window_returns_only_messages_inside_the_window(
    bootstrap_servers: str, new_topic: TopicFactory, producer: Producer
) -> None:
    """Messages an hour before and after the window are left out, on every partition. (All timestamps are in the
    past: the broker rejects timestamps more than an hour ahead of its clock.)"""
    topic = new_topic("report-window", partitions=2)
    now_ms = int(time.time() * 1000)
    for partition in (0, 1):
        for label, ago_ms in (("before", 5 * HOUR_MS), ("inside", 3 * HOUR_MS), ("after", HOUR_MS)):
            producer.produce(topic, value=label.encode(), partition=partition, timestamp=now_ms - ago_ms)
    producer.flush(30)
    window = Window(now_ms - 4 * HOUR_MS, now_ms - 2 * HOUR_MS)
    messages = list(read_window(local_config(bootstrap_servers), [topic], window))
    assert sorted((m.ref.partition, m.value) for m in messages) == [(0, b"inside"), (1, b"inside")]


def test_read_window_of_an_empty_window_reads_nothing(
    bootstrap_servers: str, new_topic: TopicFactory, producer: Producer
) -> None:
    """A window before every message ends at once with no messages."""
    topic = new_topic("report-empty")
    now_ms = int(time.time() * 1000)
    producer.produce(topic, value=b"late", timestamp=now_ms)
    producer.flush(30)
    window = Window(now_ms - 3 * HOUR_MS, now_ms - 2 * HOUR_MS)
    assert list(read_window(local_config(bootstrap_servers), [topic], window)) == []


@pytest.fixture
def sample_report(
    tmp_path: Path, bootstrap_servers: str, new_topic: TopicFactory, producer: Producer
) -> tuple[Path, str]:
    topic = new_topic("orders-paid")
    publish_sample_orders(producer, topic, int(time.time() * 1000) - HOUR_MS)
    return write_config(tmp_path, bootstrap_servers, topic), topic


def run_report(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args: argparse.Namespace = build_parser().parse_args(["report", *argv])
    code = report.main(args)
    return code, capsys.readouterr().out


def test_report_counts_what_the_service_would_send(
    sample_report: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Of 51 messages: 5 consent-withheld, 2 too old and 1 undecodable (rejected), 43 sent. Of the 43 sent: 12
    carry a phone, 2 had an unparseable one, 34 a Pixel event_id, 6 a ttclid from the landing URL, all an email."""
    config, _ = sample_report
    code, out = run_report(["--config", str(config), "--since", "3h", "--json"], capsys)
    assert code == 0
    (row,) = json.loads(out)["rows"]
    assert (row["route"], row["event"]) == ("order-paid", "Purchase")
    assert (row["observed"], row["sent"], row["consent_withheld"], row["rejected"]) == (51, 43, 5, 3)
    assert row["failure_reasons"] == {"policy/event_too_old": 2, "decode/decode_malformed": 1}
    assert row["identifiers"] == {"email": 43, "phone": 12, "external_id": 43, "ttclid": 6, "ttp": 43, "ip": 43,
                                  "user_agent": 43}  # fmt: skip
    assert row["unparseable"] == {"phone": 2}
    assert row["event_id_origins"] == {"derived": 9, "record": 34}


def test_report_prints_the_table_and_advice_and_writes_html(
    sample_report: tuple[Path, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The text report names the phone gap and the derived event ids; the HTML file has the row's charts."""
    config, topic = sample_report
    html = tmp_path / "report.html"
    code, out = run_report(["--config", str(config), "--topic", topic, "--since", "3h", "--html", str(html)], capsys)
    assert code == 0
    assert "Purchase: 28% carry phone; add phone to the event to raise match quality." in out
    assert "Purchase: only 79% share their event_id with the Pixel" in out
    page = html.read_text()
    assert 'data-event="Purchase"' in page
    assert page.count("<svg") == 3


def test_report_of_a_missing_topic_fails_with_its_name(
    tmp_path: Path, bootstrap_servers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A topic that does not exist is an error naming it (exit code 1), not an empty report."""
    config = write_config(tmp_path, bootstrap_servers, "no-such-topic-for-report")
    args = build_parser().parse_args(["report", "--config", str(config), "--since", "1h"])
    assert report.main(args) == 1
    assert "no-such-topic-for-report" in capsys.readouterr().err
