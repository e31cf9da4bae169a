"""`tiktok-relay map`: check a mapping before deploying it.

Reads one domain event and the service config, and prints what the relay would do with it: the exact TikTok request
body it would send, or the decision that stops it. The input is JSON (the record's fields; decimals may be numbers
or text, timestamps ISO 8601 or Unix milliseconds) or, with ``--avro``, the raw Kafka value bytes, decoded as the
service decodes that topic. With ``--consent-entry`` (a consent topic value as JSON, for the record's subject) it
also shows the consent table's decision at send time. Nothing is sent and no metric is counted. Exit codes:
``ExitCode`` (and docs/mapping.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any

import orjson

from consumer.config import RelayConfig, config_path_from, load_config
from consumer.consent_table.entry import PurposeBits
from consumer.consent_table.table import ConsentTable
from consumer.decode.avro import Decoder
from consumer.errors import ConfigError
from consumer.mapping.translator import Explanation, Translator
from consumer.model import (
    ConsentWithheld,
    DomainRecord,
    Failure,
    OutboundEvent,
    Skipped,
    SourceMessage,
    SourceRef,
    Stage,
    WithheldAtSend,
)
from consumer.pipeline import withheld_at_send
from consumer.sending.body import RequestEncoder, encode_event
from consumer.times import parse_time_ms
from consumer.triage import Failed, Held, decode_message, translate_record

EXIT_CODES = """exit codes:
  0  the event would be sent; stdout is the request body (stderr: route, destination, dropped identifiers)
  2  usage or configuration error
  3  withheld for lack of consent (or by --consent-entry); stdout is the audit record
  4  rejected by policy (event_too_old, event_in_future, validation_error); stdout is the decision
  5  not mappable (no_route, mapping_error, no_destination); stdout is the decision
  6  the input cannot be read or decoded
  7  skipped: a skip rule says the record is no conversion; stdout is the decision
"""


class ExitCode(IntEnum):
    SENT = 0
    USAGE = 2
    CONSENT_WITHHELD = 3
    POLICY_REJECTED = 4
    NOT_MAPPABLE = 5
    BAD_INPUT = 6
    SKIPPED = 7


class InputError(Exception):
    """The input file cannot be read or parsed; the message says why without quoting it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
    parser.add_argument("input", nargs="?", default="-", help="the event: a file, or - for stdin (default)")
    parser.add_argument("--config", help="the service config file (default: $RELAY_CONFIG)")
    parser.add_argument("--topic", required=True, help="the topic the event is consumed from (selects the routes)")
    parser.add_argument(
        "--schema",
        help="the record's schema full name, for JSON input (default: the one schema the topic's routes name)",
    )
    parser.add_argument("--avro", action="store_true", help="the input is raw Kafka value bytes, not JSON")
    parser.add_argument(
        "--now", help="the clock for the event age window: ISO 8601 or Unix milliseconds (default: now)"
    )
    parser.add_argument("--compact", action="store_true", help="print the body byte for byte as it would be sent")
    parser.add_argument(
        "--consent-entry",
        metavar="JSON",
        help='the consent table\'s value for the record\'s subject, e.g. \'{"purposes": {"marketing": "DENIED"}, '
        '"decided_at": "2025-01-16T09:00:00Z"}\': shows the decision at send time',
    )


def main(args: argparse.Namespace) -> int:
    try:
        config = load_config(config_path_from(args.config))
        translator = Translator(config.translation)
        now_ms = _clock(args.now)
        entry = None if args.consent_entry is None else _consent_entry(args.consent_entry, config)
    except (ConfigError, ValueError) as error:
        print(f"tiktok-relay map: {error}", file=sys.stderr)
        return ExitCode.USAGE
    ref = SourceRef(args.topic, 0, 0)
    try:
        record = _read_record(args, config, ref, now_ms)
    except InputError as error:
        print(f"tiktok-relay map: cannot read the event: {error}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except ConfigError as error:
        print(f"tiktok-relay map: {error}", file=sys.stderr)
        return ExitCode.USAGE
    explanation = translate_record(translator.explain, record, ref, now_ms)
    if isinstance(explanation, Failed):
        _print_json(_rejection(explanation.failure), compact=args.compact)
        return ExitCode.POLICY_REJECTED if explanation.failure.stage is Stage.POLICY else ExitCode.NOT_MAPPABLE
    if entry is not None and isinstance(explanation.result, OutboundEvent):
        explanation = replace(explanation, result=_at_send_time(explanation.result, entry, now_ms))
    return _report(explanation, config, compact=args.compact)


def _consent_entry(text: str, config: RelayConfig) -> int:
    """The packed table entry of a consent value given as JSON; ``ValueError`` says what is wrong."""
    if not config.consent_table.enabled:
        raise ConfigError("--consent-entry needs a consent table: set consent_table.topic in the config")
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError("--consent-entry: not JSON") from None
    if not isinstance(value, dict):
        raise ValueError("--consent-entry: a JSON object is required ({purposes, decided_at})")
    return PurposeBits(config.consent_table.purposes).entry(value)


def _at_send_time(event: OutboundEvent, entry: int, now_ms: int) -> OutboundEvent | ConsentWithheld:
    """What the sender would do with ``event`` if the consent table held ``entry`` for its subject."""
    if event.subject is None:
        print("consent table: not consulted (no consent_subject for this route or record)", file=sys.stderr)
        return event
    table = ConsentTable()
    table.put(event.subject.digest, entry)
    reason = table.withheld_reason(event.subject)
    if reason is None:
        print("consent table: sent (the entry denies none of the route's purposes)", file=sys.stderr)
        return event
    tiktok = event.event
    return withheld_at_send(WithheldAtSend(event.ref, reason), event.route, tiktok.event, tiktok.event_id, now_ms)


def _clock(value: str | None) -> int:
    return time.time_ns() // 1_000_000 if value is None else parse_time_ms(value)


def _read_bytes(source: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise InputError(f"{source}: {error.strerror}") from None


def _read_record(args: argparse.Namespace, config: RelayConfig, ref: SourceRef, now_ms: int) -> DomainRecord:
    data = _read_bytes(args.input)
    if args.avro:
        decoder = Decoder.from_settings(config.schemas, config.resolve_path)
        try:
            record = decode_message(decoder, SourceMessage(ref, None, data), now_ms)
        finally:
            decoder.close()
        if isinstance(record, Held):
            raise InputError(str(record.error))
        if isinstance(record, Failed):
            if isinstance(record.error, ConfigError):
                raise record.error
            raise InputError(record.failure.message)
        return record
    try:
        value = json.loads(data, parse_float=Decimal)  # decimals stay exact, as the Avro decoder gives them
    except ValueError as error:
        raise InputError(f"not JSON ({error.__class__.__name__} at line {getattr(error, 'lineno', '?')})") from None
    if not isinstance(value, dict):
        raise InputError("the JSON must be an object: the record's fields")
    return DomainRecord(args.schema or _schema_of_topic(config, ref.topic), value)


def _schema_of_topic(config: RelayConfig, topic: str) -> str:
    """The schema the topic's routes select, when they name exactly one; empty when none names any."""
    names = {
        route.match.schema_name
        for route in config.routes
        if route.topic == topic and route.match is not None and route.match.schema_name is not None
    }
    if len(names) > 1:
        raise ConfigError(f"topic {topic!r} carries several schemas ({', '.join(sorted(names))}): pass --schema")
    return names.pop() if names else ""


def _rejection(failure: Failure) -> dict[str, Any]:
    return {
        "decision": "rejected",
        "stage": failure.stage.value,
        "reason": failure.reason,
        "route": failure.route,
        "error": failure.exception_class,
        "message": failure.message,
    }


def _report(explanation: Explanation, config: RelayConfig, *, compact: bool) -> int:
    result = explanation.result
    if isinstance(result, Skipped):
        _print_json({"decision": "skipped", "rule": result.rule}, compact=compact)
        return ExitCode.SKIPPED
    if isinstance(result, ConsentWithheld):
        withheld = asdict(result)
        del withheld["ref"]
        _print_json({"decision": "withheld", **withheld}, compact=compact)
        return ExitCode.CONSENT_WITHHELD
    for identifier, cause in explanation.dropped:
        print(f"note: {identifier} dropped ({cause})", file=sys.stderr)
    destination = result.destination
    print(
        f"route={result.route} event_source={destination.event_source.value} "
        f"event_source_id={destination.event_source_id} event_id_origin={result.event_id_origin}",
        file=sys.stderr,
    )
    encoder = RequestEncoder(config.tiktok.test_event_code, config.tiktok.partner_name)
    body = encoder.build(destination, [result.ref], [encode_event(result.event)]).body
    if compact:
        sys.stdout.buffer.write(body + b"\n")
        sys.stdout.flush()
    else:
        _print_json(orjson.loads(body), compact=False)
    return ExitCode.SENT


def _print_json(value: Any, *, compact: bool) -> None:
    option = 0 if compact else orjson.OPT_INDENT_2
    print(orjson.dumps(value, option=option).decode())
