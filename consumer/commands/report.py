"""`tiktok-relay report`: identifier coverage, dedup readiness and delivery health per event, with advice.

Reads a time window of the source topics (decoding and mapping each message as the service does) or the running
service's Prometheus metrics, prints the coverage table and plain-language advice, and can write an HTML report
with charts. See docs/report.md.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson

from consumer.config import RelayConfig, config_path_from, load_config
from consumer.decode.avro import Decoder
from consumer.errors import ConfigError
from consumer.kafka.client import consumer_client_config
from consumer.mapping.translator import Translator
from consumer.model import TransientError
from consumer.report.advice import Advice, advise
from consumer.report.coverage import Coverage, EventCoverage
from consumer.report.render_html import render_html
from consumer.report.render_text import render_text
from consumer.report.scrape import ScrapeError, add_metrics, fetch_metrics
from consumer.report.source import CoverageFeeder, SourceError, read_window
from consumer.report.window import Window, WindowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="the service's config file (default: $RELAY_CONFIG)")
    parser.add_argument(
        "--topic",
        action="append",
        dest="topics",
        metavar="TOPIC",
        help="source topic to read (repeatable; default: every route's topic)",
    )
    parser.add_argument(
        "--since", default="24h", help="window start: ISO 8601 time or a duration ago (90m, 24h, 7d); default 24h"
    )
    parser.add_argument("--until", default=None, help="window end: ISO 8601 time or a duration ago; default now")
    parser.add_argument(
        "--metrics-url",
        action="append",
        dest="metrics_urls",
        metavar="URL",
        help="read the running service's /metrics instead of Kafka (repeatable, one per pod; counts since start)",
    )
    parser.add_argument("--html", type=Path, metavar="PATH", help="also write the HTML report with charts here")
    parser.add_argument("--json", action="store_true", help="print the coverage and advice as JSON")


def coverage_from_topics(config: RelayConfig, topics: list[str], window: Window) -> tuple[str, Coverage]:
    """Read the window of ``topics`` through the service's own decoder and translator."""
    coverage = Coverage()
    decoder = Decoder.from_settings(config.schemas, config.resolve_path)
    feeder = CoverageFeeder(coverage, decoder, Translator(config.translation), config.routes)
    messages = 0
    try:
        client, group = consumer_client_config(config.kafka), f"{config.kafka.group_id}-report"
        for message in read_window(client, topics, window, group):
            feeder.feed(message)
            messages += 1
    finally:
        decoder.close()
    return f"Topics {', '.join(topics)}, {window.describe()}: {messages} messages", coverage


def coverage_from_metrics(urls: list[str]) -> tuple[str, Coverage]:
    """Add up the coverage counters of every pod's metrics page."""
    coverage = Coverage()
    for url in urls:
        add_metrics(coverage, fetch_metrics(url))
    return f"Metrics of {', '.join(urls)} (counts since each pod started)", coverage


def collect(args: argparse.Namespace, now: datetime) -> tuple[str, Coverage]:
    """The report's heading and coverage, from metrics pages if given, else from a window of the topics."""
    if args.metrics_urls:
        return coverage_from_metrics(args.metrics_urls)
    config = load_config(config_path_from(args.config))
    topics = args.topics or list(dict.fromkeys(route.topic for route in config.routes))
    return coverage_from_topics(config, topics, Window.parse(args.since, args.until, now))


def to_json(heading: str, rows: list[EventCoverage], advice: list[Advice]) -> bytes:
    """The ``--json`` document: the heading, every row's counts and shares, and the advice."""
    payload = {
        "source": heading,
        "rows": [row.to_json() for row in rows],
        "advice": [{"route": item.route, "event": item.event, "text": item.text} for item in advice],
    }
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2)


def main(args: argparse.Namespace) -> int:
    try:
        heading, coverage = collect(args, datetime.now(UTC))
    except (ConfigError, WindowError) as error:
        print(f"tiktok-relay report: {error}", file=sys.stderr)
        return 2
    except (SourceError, ScrapeError, TransientError) as error:
        print(f"tiktok-relay report: {error}", file=sys.stderr)
        return 1
    rows = coverage.rows()
    advice = advise(rows)
    if args.html is not None:
        args.html.write_text(render_html(heading, rows, advice), encoding="utf-8")
    if args.json:
        print(to_json(heading, rows, advice).decode())
    else:
        print(render_text(heading, rows, advice), end="")
    if args.html is not None:
        print(f"HTML report written to {args.html}", file=sys.stderr)
    return 0
