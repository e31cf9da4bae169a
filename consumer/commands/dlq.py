"""`tiktok-relay dlq`: inspect and replay the dead-letter topics (docs/dlq.md walks through an incident).

``dlq inspect --topic T`` summarises a dead-letter topic by reason, stage, route, TikTok code, source topic and
replay count (count, oldest and newest failure) with masked samples. ``dlq replay --topic T --to source|tiktok``
replays the records the filters select, at ``--rate`` per second, once: see ``consumer.dlq.replay``. Both
take the same filters; inspect with the filters of a replay shows what the replay would take. The config comes from
``--config FILE`` or ``RELAY_CONFIG`` (the service's own), the access token for ``--to tiktok`` from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable

import orjson

from consumer.config import RelayConfig, config_path_from, load_config
from consumer.decode.avro import Decoder
from consumer.dlq.inspect import inspect_topic
from consumer.dlq.original import OriginalReader
from consumer.dlq.replay import Replay
from consumer.dlq.report import RecordReport, ReplayOptions, ReplaySummary
from consumer.dlq.selection import Filters, ReplaySpec, group_id
from consumer.errors import ConfigError
from consumer.kafka.bounded import TopicNotFoundError
from consumer.mapping.translator import Translator
from consumer.observability.logging import configure_logging
from consumer.times import parse_time_ms

EXIT_CODES = """exit codes:
  0  done (replay: completed, or stopped at --limit; the audit record is written)
  1  failed (Kafka, TikTok token, schema registry, or the audit record could not be written)
  2  usage or configuration error
  3  interrupted (SIGTERM/SIGINT): the position is committed up to the last acknowledged batch
"""

TIME_HELP = "ISO 8601 (2025-06-01T10:00:00Z; no zone means UTC) or Unix milliseconds"
AGO_HELP = "; inspect also takes a time ago: 90m, 6h, 2d, 2w"


def _time_arg(relative: bool) -> Callable[[str], int]:
    """An argparse type for times. A replay takes absolute times only: its identity (and so its committed
    position) hashes its filters, and "6h ago" would name a different replay at every run."""

    def parse(text: str) -> int:
        try:
            return parse_time_ms(text, time.time_ns() // 1_000_000 if relative else None)
        except ValueError:
            forms = TIME_HELP + (AGO_HELP if relative else "; a replay needs an absolute time")
            raise argparse.ArgumentTypeError(f"not a time: {text!r} ({forms})") from None

    return parse


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
        return value

    return parse


def _add_common(parser: argparse.ArgumentParser, *, relative_times: bool) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
    parser.add_argument("--topic", required=True, help="the dead-letter topic, e.g. orders.paid.dlq")
    parser.add_argument("--config", metavar="FILE", help="the service config (YAML); default: $RELAY_CONFIG")
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON)")
    group = parser.add_argument_group(
        "filters",
        f"Repeat a filter for any of several values; all filters must hold. TIME: {TIME_HELP}"
        + (AGO_HELP if relative_times else "")
        + ".",
    )
    group.add_argument("--reason", action="append", default=[], help="reason category, e.g. mapping_error")
    group.add_argument("--route", action="append", default=[], help="route name")
    group.add_argument("--code", action="append", type=int, default=[], help="TikTok response code, e.g. 40002")
    group.add_argument("--source-topic", action="append", default=[], help="the topic the message was consumed from")
    group.add_argument("--source-partition", action="append", type=int, default=[], help="its partition")
    group.add_argument("--source-offset-from", type=int, metavar="OFFSET", help="its offset, at least (inclusive)")
    group.add_argument("--source-offset-to", type=int, metavar="OFFSET", help="its offset, at most (inclusive)")
    time_arg = _time_arg(relative_times)
    group.add_argument("--since", type=time_arg, metavar="TIME", help="failed at or after TIME")
    group.add_argument("--until", type=time_arg, metavar="TIME", help="failed before TIME")
    group.add_argument("--event-since", type=time_arg, metavar="TIME", help="event happened at or after TIME")
    group.add_argument("--event-until", type=time_arg, metavar="TIME", help="event happened before TIME")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inspect = actions.add_parser("inspect", help="summarise a dead-letter topic, with masked samples")
    _add_common(inspect, relative_times=True)
    inspect.add_argument("--samples", type=int, default=3, metavar="N", help="samples per reason (default 3; 0: none)")

    replay = actions.add_parser("replay", help="replay selected dead-letter records, once, at a bounded rate")
    _add_common(replay, relative_times=False)
    replay.add_argument(
        "--to",
        required=True,
        choices=("source", "tiktok"),
        help="source: back to the original topic (the running service takes them); tiktok: decode, map, send here",
    )
    replay.add_argument("--rate", type=_positive(float), default=50.0, help="records per second (default 50)")
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed; change nothing")
    replay.add_argument(
        "--max-replays",
        type=int,
        default=3,
        metavar="N",
        help="loop guard: refuse records already replayed N times (default 3)",
    )
    replay.add_argument("--force-age", action="store_true", help="replay events past policy.max_event_age too")
    replay.add_argument(
        "--again",
        action="store_true",
        help="also replay records an earlier replay already took back (the replay record); skipped otherwise",
    )
    replay.add_argument("--limit", type=_positive(int), metavar="N", help="stop after N records (a rerun goes on)")
    replay.add_argument("--replay-id", help="name the replay (its consumer group) instead of hashing its selection")
    replay.add_argument("--operator", help="who runs the replay, for the audit record (default: $USER)")
    replay.add_argument("--previews", type=int, default=5, metavar="N", help="dry run: payload previews (default 5)")


def filters_from(args: argparse.Namespace) -> Filters:
    return Filters(
        reasons=frozenset(args.reason),
        routes=frozenset(args.route),
        codes=frozenset(args.code),
        source_topics=frozenset(args.source_topic),
        source_partitions=frozenset(args.source_partition),
        source_offset_from=args.source_offset_from,
        source_offset_to=args.source_offset_to,
        failed_since_ms=args.since,
        failed_until_ms=args.until,
        event_since_ms=args.event_since,
        event_until_ms=args.event_until,
    )


def options_from(args: argparse.Namespace) -> ReplayOptions:
    spec = ReplaySpec(args.topic, args.to, filters_from(args), args.max_replays, args.force_age, args.again)
    return ReplayOptions(
        spec,
        rate=args.rate,
        dry_run=args.dry_run,
        replay_id=args.replay_id,
        operator=args.operator or os.environ.get("USER") or "unknown",
        limit=args.limit,
        previews=args.previews,
    )


def main(args: argparse.Namespace) -> int:
    try:
        config = load_config(config_path_from(args.config))
    except ConfigError as error:
        print(f"tiktok-relay dlq: {error}", file=sys.stderr)
        return 2
    configure_logging(config.observability.log_format, config.observability.log_level)
    try:
        return _inspect(config, args) if args.action == "inspect" else _replay(config, args)
    except ConfigError as error:
        print(f"tiktok-relay dlq: {error}", file=sys.stderr)
        return 2


def _inspect(config: RelayConfig, args: argparse.Namespace) -> int:
    decoder = Decoder.from_settings(config.schemas, config.resolve_path)
    try:
        reader = OriginalReader(config, decoder, Translator(config.translation))
        inspection = inspect_topic(config, reader, args.topic, filters_from(args), args.samples)
    except TopicNotFoundError as error:
        print(f"tiktok-relay dlq inspect: {error}", file=sys.stderr)
        return 1
    finally:
        decoder.close()
    print(_json(inspection.to_json()) if args.json else inspection.to_text())
    return 0


def _replay(config: RelayConfig, args: argparse.Namespace) -> int:
    options = options_from(args)
    emit = _print_json_report if args.json else _print_text_report
    if not args.json:
        mode = "dry run of replay" if options.dry_run else "replay"
        print(f"{mode} {options.id} (consumer group {group_id(options.id)}) of {options.spec.topic} to {args.to}")
    summary = asyncio.run(_run_replay(config, options, emit))
    if not args.json:
        print(_summary_text(summary))
    print(_json(summary.to_json()))
    if summary.error:
        print(f"tiktok-relay dlq replay: {summary.error}", file=sys.stderr)
    if summary.status == "failed" or not (summary.audited or options.dry_run):
        return 1
    return 3 if summary.status == "interrupted" else 0


async def _run_replay(
    config: RelayConfig, options: ReplayOptions, emit: Callable[[RecordReport], None]
) -> ReplaySummary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return await Replay(config, options, emit=emit).run(stop)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _print_json_report(report: RecordReport) -> None:
    print(_json(report.to_json()), flush=True)


def _print_text_report(report: RecordReport) -> None:
    data = report.to_json()
    dead = data["dead_letter"]
    line = f"{data['outcome']:<20} partition {dead['partition']} offset {dead['offset']}"
    if "source" in data:
        source = data["source"]
        line += f" <- {source['topic']}[{source['partition']}]@{source['offset']} {data['reason']}"
        line += f" route {data['route'] or '-'} replays {data['replay_count']}"
    if data.get("event_id"):
        line += f" event_id {data['event_id']}"
    if data.get("detail"):
        line += f": {data['detail']}"
    print(line, flush=True)
    if data.get("preview") is not None:
        print(orjson.dumps(data["preview"], option=orjson.OPT_INDENT_2).decode(), flush=True)


def _summary_text(summary: ReplaySummary) -> str:
    counts = " ".join(f"{name}={count}" for name, count in sorted(summary.counts.items())) or "nothing to do"
    audit = "" if summary.options.dry_run else (" audited" if summary.audited else " AUDIT RECORD NOT WRITTEN")
    return f"{summary.status}: scanned={summary.scanned} {counts};{audit}"
