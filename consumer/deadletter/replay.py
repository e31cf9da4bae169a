"""`dlq replay`: take selected dead-letter records back, once, at a bounded rate, and account for each.

A replay reads its dead-letter topic under its own consumer group (``tiktok-relay-replay-<id>``, the id a hash of
``ReplaySpec``), from the group's committed offsets to the end the topic had when the run began. Each record gets a
verdict (``consumer.dlq.selection.decide``); the records to replay go, at ``rate`` per second:

- ``--to source``: the original key, value and headers (the dead-letter context removed, the replay counter raised)
  are produced to the original topic and partition, so the running service takes them with its current code and
  config. ``replayed`` once Kafka acknowledged the record.
- ``--to tiktok``: decode, map, policy and send, here, with the replay's config. ``replayed`` once TikTok accepted
  the event; what fails again is dead-lettered again (counter raised), what consent now withholds is audited.
  With a consent table configured, the replay reads it to the end before it sends anything, and the sender checks
  it just before each request, as the service does: a subject who withdrew consent since the event is audited.

Records are handled in batches; after a batch's sends are acknowledged, its records are written to the replay record
(``consumer.dlq.replayed``) and the group's offsets move past it, so a rerun of the same replay starts after
the last acknowledged batch (a crash in between replays at most that batch again: TikTok deduplicates on the stable
``event_id``), and any other replay skips the records this one took back (``skipped_already_replayed``) unless it
is run with ``again``. A dry run commits nothing, sends nothing and writes
no audit record. Every other run ends with one audit record (``deadletter.replay_audit_topic``), also printed.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol

import orjson
import structlog
from confluent_kafka import KafkaException, Producer

from consumer import __version__
from consumer.config import RelayConfig
from consumer.consent_table.reader import consent_table_reader
from consumer.deadletter.publisher import DeadLetterPublisher, producer_config
from consumer.deadletter.record import Reduction
from consumer.decode.avro import Decoder
from consumer.dlq.inspect import masked
from consumer.dlq.original import OriginalEvent, OriginalReader
from consumer.dlq.replayed import Replayed, ReplayRecordError, read_replayed, write_replayed
from consumer.dlq.scan import DeadLetterScan
from consumer.dlq.selection import (
    DeadLetterEntry,
    ReplaySpec,
    Rules,
    Verdict,
    decide,
    group_id,
    needs_event_time,
    replay_id,
    replayed_headers,
)
from consumer.dlq.source import OriginalGoneError, SourceFetcher
from consumer.errors import ConfigError
from consumer.kafka.bounded import TIMEOUT_S, TopicNotFoundError
from consumer.kafka.client import client_config
from consumer.kafka.delivery import DeliveryError, delivery_future, produce_all
from consumer.kafka.topics import COMPACTED, TopicSpec, admin_client, ensure_topics
from consumer.mapping.translator import Translation, Translator
from consumer.model import (
    ConsentWithheld,
    DeadLettered,
    Delivered,
    Failure,
    OutboundEvent,
    Skipped,
    SourceMessage,
    TransientError,
    WithheldAtSend,
)
from consumer.pipeline import withheld_at_send
from consumer.sending.body import RequestEncoder, encode_event
from consumer.sending.limits import TokenBucket
from consumer.sending.sender import Sender
from consumer.sending.tokens import TokenStore
from consumer.times import format_time_ms
from consumer.triage import Failed, translate_record

log = structlog.get_logger(__name__)

REPLAYED = "replayed"
WOULD_REPLAY = "would_replay"
FAILED_AGAIN = "failed_again"
CONSENT_WITHHELD = "consent_withheld"
WOULD_FAIL_AGAIN = "would_fail_again"
WOULD_WITHHOLD = "would_withhold"
SKIPPED = "skipped"
WOULD_SKIP = "would_skip"
ORIGINAL_GONE = "original_gone"

NO_AGE_LIMIT = timedelta(days=36_500)
"""The event age window of a direct replay with ``force_age``: none to speak of."""

AUTH_CHECK_S = 0.2
CLOSE_TIMEOUT_S = 10.0


class ReplayError(Exception):
    """The replay cannot go on (Kafka refused a write, TikTok refuses the token, the registry is down); what was
    acknowledged before stays committed, and a rerun continues from there."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """One run of a replay: its identity (``spec``) and how this run goes."""

    spec: ReplaySpec
    rate: float = 50.0
    dry_run: bool = False
    replay_id: str | None = None
    operator: str = "unknown"
    limit: int | None = None
    previews: int = 5
    batch: int = 100

    @property
    def id(self) -> str:
        return self.replay_id or replay_id(self.spec)


@dataclass(frozen=True, slots=True)
class RecordReport:
    """What the replay did with one record (not reported for records the filters do not select)."""

    outcome: str
    entry: DeadLetterEntry
    event_ms: int | None = None
    detail: str | None = None
    event_id: str | None = None
    preview: Any = None

    def to_json(self) -> dict[str, Any]:
        entry, context = self.entry, self.entry.context
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "dead_letter": {"partition": entry.position.partition, "offset": entry.position.offset},
        }
        if context is not None:
            failure = context.failure
            out |= {
                "source": {
                    "topic": context.source.topic,
                    "partition": context.source.partition,
                    "offset": context.source.offset,
                },
                "reason": failure.reason,
                "route": failure.route,
                "tiktok_code": failure.tiktok_code,
                "replay_count": entry.replay_count,
            }
        out["event_time"] = None if self.event_ms is None else format_time_ms(self.event_ms)
        for name in ("event_id", "detail", "preview"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(slots=True)
class ReplaySummary:
    """The audit record of one run."""

    options: ReplayOptions
    started_ms: int
    finished_ms: int | None = None
    status: str = "running"
    error: str | None = None
    scanned: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    positions: dict[int, int] = field(default_factory=dict)
    audited: bool = False

    def to_json(self) -> dict[str, Any]:
        options = self.options
        return {
            "replay_id": options.id,
            "group": group_id(options.id),
            "operator": options.operator,
            "host": socket.gethostname(),
            "version": __version__,
            "started_at": format_time_ms(self.started_ms),
            "finished_at": None if self.finished_ms is None else format_time_ms(self.finished_ms),
            "status": self.status,
            "error": self.error,
            "dry_run": options.dry_run,
            **options.spec.describe(),
            "rate": options.rate,
            "limit": options.limit,
            "scanned": self.scanned,
            "counts": dict(sorted(self.counts.items())),
            "committed": {str(p): offset for p, offset in sorted(self.positions.items())},
        }


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- targets -----------------------------------------------------------------------------------------------------


class ReplayTarget(Protocol):
    """Where replayed records go. ``submit`` starts one record on its way; ``settle`` waits for the outcomes of
    everything submitted since the last call (raising ``ReplayError`` when a record could not be made durable)."""

    async def start(self) -> None: ...

    def preview(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> RecordReport: ...

    def submit(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> Awaitable[RecordReport]: ...

    async def settle(self, outcomes: Sequence[Awaitable[RecordReport]]) -> list[RecordReport]: ...

    async def close(self) -> None: ...


class SourceTarget:
    """Re-produces records to their original topic and partition (idempotent, ``acks=all``)."""

    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        self._prefix = config.deadletter.header_prefix
        self._producer: Producer | None = None
        self._partitions: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        config = producer_config(self._config.kafka, self._config.deadletter)
        self._producer = Producer(config)

    def preview(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> RecordReport:
        del now
        if original is None:
            return RecordReport(WOULD_REPLAY, entry)
        return RecordReport(WOULD_REPLAY, entry, original.event_ms, original.summary)

    def submit(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> Awaitable[RecordReport]:
        del now
        assert self._producer is not None and self._loop is not None and entry.context is not None
        loop, source = self._loop, entry.context.source
        message = original.message if original is not None else entry.original(self._prefix)
        report = RecordReport(REPLAYED, entry, None if original is None else original.event_ms)
        acknowledged, on_delivery = delivery_future(loop)
        headers: list[tuple[str, str | bytes | None]] = [
            *replayed_headers(message.headers, self._prefix, entry.replay_count + 1)
        ]
        self._producer.produce(
            source.topic,
            key=message.key,
            value=message.value,
            headers=headers,
            partition=self._partition(source.topic, source.partition),
            on_delivery=on_delivery,
        )
        self._producer.poll(0)
        return asyncio.ensure_future(_reproduced(acknowledged, source.topic, report))

    def _partition(self, topic: str, partition: int) -> int:
        """The original partition while the topic has it (per-key order survives), else the partitioner's choice."""
        assert self._producer is not None
        if topic not in self._partitions:
            metadata = self._producer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None or not metadata.partitions:
                raise ReplayError(f"source topic {topic!r} does not exist")
            self._partitions[topic] = len(metadata.partitions)
        return partition if partition < self._partitions[topic] else -1

    async def settle(self, outcomes: Sequence[Awaitable[RecordReport]]) -> list[RecordReport]:
        assert self._producer is not None
        remaining = await asyncio.to_thread(self._producer.flush, TIMEOUT_S * 10)
        if remaining:
            raise ReplayError(f"{remaining} replayed records were not acknowledged by Kafka")
        return list(await asyncio.gather(*outcomes))

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, CLOSE_TIMEOUT_S)


async def _reproduced(acknowledged: asyncio.Future[None], topic: str, report: RecordReport) -> RecordReport:
    """``report`` once Kafka acknowledged the re-produced record; ``ReplayError`` when it refused it."""
    try:
        await acknowledged
    except KafkaException as error:
        raise ReplayError(f"producing to {topic}: {error.args[0].str()}") from None
    return report


class TikTokTarget:
    """Decode, map, policy and send, as the service does; re-failures are dead-lettered again (replay counter
    raised) and consent withdrawals audited, with the service's own publisher."""

    def __init__(self, config: RelayConfig, translator: Translator, tokens: TokenStore) -> None:
        self._config = config
        self._prefix = config.deadletter.header_prefix
        self._translator = translator
        self._consent = consent_table_reader(config.consent_table, config.kafka, config.schemas, config.resolve_path)
        withhold = None if self._consent is None else self._consent.table.withheld_reason
        self._sender = Sender(config.tiktok, tokens, withhold=withhold)
        self._publisher = DeadLetterPublisher(config.deadletter, config.kafka, __version__)
        self._encoder = RequestEncoder(config.tiktok.test_event_code, config.tiktok.partner_name)

    async def start(self) -> None:
        await self._sender.start()
        await self._publisher.start([])
        if self._consent is not None:
            self._consent.start()
            timeout_s = self._config.consent_table.catch_up_timeout_s
            try:
                await asyncio.wait_for(self._consent.wait_caught_up(), timeout_s)
            except TimeoutError:
                await self._consent.close()
                raise ReplayError(
                    f"the consent table ({self._config.consent_table.topic}) was not read to its end within "
                    f"{timeout_s:g}s: nothing was sent"
                ) from None

    def _translate(self, original: OriginalEvent | None, now: int) -> Translation | Failed:
        """The event to send (or the audit record), else the failure the pipeline would dead-letter."""
        if original is None:
            raise ReplayError("a direct replay needs the record decoded")
        problem = original.problem
        if isinstance(problem, ConfigError):
            raise ReplayError(f"{problem}: replay with the config the service runs with")
        if problem is not None:
            return Failed(Failure.from_error(problem, now, original.route), problem)
        assert original.record is not None
        return translate_record(self._translator.translate, original.record, original.message.ref, now, original.route)

    def preview(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> RecordReport:
        event_ms = None if original is None else original.event_ms
        result = self._translate(original, now)
        if isinstance(result, Failed):
            failure = result.failure
            return RecordReport(WOULD_FAIL_AGAIN, entry, event_ms, f"{failure.reason}: {failure.message}")
        if isinstance(result, ConsentWithheld):
            return RecordReport(WOULD_WITHHOLD, entry, event_ms, result.reason, result.event_id)
        if isinstance(result, Skipped):
            return RecordReport(WOULD_SKIP, entry, event_ms, f"skip rule {result.rule}")
        body = self._encoder.build(result.destination, [result.ref], [encode_event(result.event)]).body
        return RecordReport(
            WOULD_REPLAY, entry, event_ms, f"route {result.route}", result.event.event_id, masked(orjson.loads(body))
        )

    def submit(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> Awaitable[RecordReport]:
        result = self._translate(original, now)
        assert original is not None
        report = RecordReport(REPLAYED, entry, original.event_ms)
        if isinstance(result, Failed):
            return self._dead_letter_again(report, original.message, result.failure)
        if isinstance(result, ConsentWithheld):
            withheld = replace(report, outcome=CONSENT_WITHHELD, detail=result.reason, event_id=result.event_id)
            return _after(self._publisher.audit(result), withheld)
        if isinstance(result, Skipped):
            return _after(asyncio.sleep(0), replace(report, outcome=SKIPPED, detail=f"skip rule {result.rule}"))
        sent = replace(report, detail=f"route {result.route}", event_id=result.event.event_id)
        return self._sent(sent, original.message, result, self._sender.submit(result))

    async def _sent(
        self,
        report: RecordReport,
        message: SourceMessage,
        event: OutboundEvent,
        sent: asyncio.Future[Delivered | DeadLettered | WithheldAtSend],
    ) -> RecordReport:
        outcome = await sent
        if isinstance(outcome, DeadLettered):
            return await self._dead_letter_again(report, message, outcome.failure)
        if isinstance(outcome, WithheldAtSend):
            await self._publisher.audit(withheld_at_send(event, outcome, now_ms()))
            return replace(report, outcome=CONSENT_WITHHELD, detail=outcome.reason)
        return report

    async def _dead_letter_again(self, report: RecordReport, message: SourceMessage, failure: Failure) -> RecordReport:
        count = report.entry.replay_count + 1
        again = replace(message, headers=tuple(replayed_headers(message.headers, self._prefix, count)))
        await self._publisher.dead_letter(again, failure)
        return replace(report, outcome=FAILED_AGAIN, detail=f"{failure.reason}: {failure.message}")

    async def settle(self, outcomes: Sequence[Awaitable[RecordReport]]) -> list[RecordReport]:
        """Send what lingers and wait; a token or permission fault (the sender holds) ends the run instead."""
        await self._sender.flush()
        tasks = [asyncio.ensure_future(outcome) for outcome in outcomes]
        pending: set[asyncio.Future[RecordReport]] = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=AUTH_CHECK_S)
            if pending and not self._sender.ready:
                for task in pending:
                    task.cancel()
                raise ReplayError("TikTok refuses the access token or its permission: fix it, then rerun the replay")
        return [task.result() for task in tasks]

    async def close(self) -> None:
        await self._sender.close()
        await self._publisher.close(timeout_s=CLOSE_TIMEOUT_S)
        if self._consent is not None:
            await self._consent.close()


async def _after(done: Awaitable[None], report: RecordReport) -> RecordReport:
    await done
    return report


# -- the run -----------------------------------------------------------------------------------------------------


def direct_config(config: RelayConfig, force_age: bool) -> RelayConfig:
    """The config a direct replay maps with: the same, with the age window lifted when forced."""
    if not force_age:
        return config
    return config.model_copy(update={"policy": config.policy.model_copy(update={"max_event_age": NO_AGE_LIMIT})})


class Replay:
    """One run of a replay; ``emit`` receives a report per record the filters select."""

    def __init__(
        self,
        config: RelayConfig,
        options: ReplayOptions,
        *,
        tokens: TokenStore | None = None,
        emit: Callable[[RecordReport], None] = lambda _report: None,
    ) -> None:
        self._config = config
        self._options = options
        self._emit = emit
        spec = options.spec
        max_age_ms = config.policy.max_event_age // timedelta(milliseconds=1)
        self._rules = Rules(spec.max_replays, max_age_ms, spec.force_age, spec.again)
        self._replayed_before: Replayed = set()
        self._record: Producer | None = None  # writes the replay record (not in a dry run)
        self._decoder = Decoder.from_settings(config.schemas, config.resolve_path)
        translator = Translator(direct_config(config, spec.force_age).translation)
        self._reader = OriginalReader(config, self._decoder, translator)
        self._target: ReplayTarget = (
            SourceTarget(config)
            if spec.target == "source"
            else TikTokTarget(config, translator, tokens if tokens is not None else TokenStore.from_env())
        )
        self._sources: SourceFetcher | None = None  # opened at the first reduced dead letter
        self._bucket = TokenBucket(options.rate, 1, time.monotonic())
        self._replayed = 0
        self._previews = 0

    async def run(self, stop: asyncio.Event | None = None) -> ReplaySummary:
        """Replay until the scan's end, ``stop``, the limit or an error; then write the audit record (unless dry)."""
        options = self._options
        summary = ReplaySummary(options, now_ms())
        started = False
        try:
            if not options.dry_run:  # a dry run opens no producer, no HTTP session: it writes nothing anywhere
                await self._target.start()
                started = True
                self._record = await asyncio.to_thread(open_replay_record, self._config)
            if not options.spec.again:
                self._replayed_before = await asyncio.to_thread(
                    read_replayed, self._config.kafka, self._config.deadletter.replay_record_topic, options.spec.topic
                )
            scan = await asyncio.to_thread(
                DeadLetterScan,
                self._config.kafka,
                options.spec.topic,
                self._config.deadletter.header_prefix,
                group_id(options.id),
            )
            try:
                summary.status = await self._drive(scan, summary, stop)
            finally:
                await asyncio.to_thread(scan.close)
        except (ReplayError, ReplayRecordError, KafkaException, TopicNotFoundError) as error:
            summary.status, summary.error = "failed", str(error)
        finally:
            if started:
                await self._target.close()
            if self._sources is not None:
                await asyncio.to_thread(self._sources.close)
            self._decoder.close()
        summary.finished_ms = now_ms()
        if not options.dry_run:
            try:
                await asyncio.to_thread(write_audit, self._config, summary.to_json())
                summary.audited = True
            except (ReplayError, KafkaException) as error:
                log.error("replay_audit_failed", error=str(error))
        return summary

    async def _drive(self, scan: DeadLetterScan, summary: ReplaySummary, stop: asyncio.Event | None) -> str:
        """Batch by batch: decide, submit, wait for the outcomes, commit (not in a dry run); the final status."""
        options = self._options
        # About a second of work per batch at the replay's rate: the position moves and a stop is seen that often.
        size = options.batch if options.dry_run else max(1, min(options.batch, math.ceil(options.rate)))
        batches: Iterator[list[DeadLetterEntry]] = scan.batches(size)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            positions, submitted, limited = await self._handle(batch, summary)
            reports = await self._target.settle(submitted) if submitted else []
            for report in reports:
                summary.counts[report.outcome] += 1
                self._emit(report)
            if self._record is not None:
                if reports:
                    marks = [(report.entry.position, self._mark(report)) for report in reports]
                    await asyncio.to_thread(
                        write_replayed, self._record, self._config.deadletter.replay_record_topic, marks
                    )
                await asyncio.to_thread(scan.commit, positions)
                summary.positions |= positions
            if limited:
                return "limit_reached"
            if stop is not None and stop.is_set():
                return "interrupted"
        return "completed"

    async def _handle(
        self, batch: list[DeadLetterEntry], summary: ReplaySummary
    ) -> tuple[dict[int, int], list[Awaitable[RecordReport]], bool]:
        """Decide every entry of a batch and submit the ones to replay. Returns the positions handled, the outcomes
        to wait for, and whether the limit stopped the batch (the entry that hit it stays unhandled)."""
        options, filters = self._options, self._options.spec.filters
        positions: dict[int, int] = {}
        submitted: list[Awaitable[RecordReport]] = []
        for read in batch:
            entry = read
            if entry.reduction is not None and needs_event_time(entry, filters):
                try:
                    entry = await self._restore(entry, entry.reduction)
                except OriginalGoneError as error:
                    summary.scanned += 1
                    positions[entry.position.partition] = entry.position.offset + 1
                    summary.counts[ORIGINAL_GONE] += 1
                    self._emit(RecordReport(ORIGINAL_GONE, entry, None, str(error)))
                    continue
            original = self._read(entry) if needs_event_time(entry, filters) else None
            event_ms = None if original is None else original.event_ms
            now = now_ms()
            already = (entry.position.partition, entry.position.offset) in self._replayed_before
            verdict = decide(entry, filters, self._rules, event_ms, now, already_replayed=already)
            if verdict is Verdict.REPLAY and options.limit is not None and self._replayed >= options.limit:
                return positions, submitted, True
            summary.scanned += 1
            positions[entry.position.partition] = entry.position.offset + 1
            if verdict is Verdict.REPLAY:
                self._replayed += 1
                if options.dry_run:
                    self._emit_preview(self._target.preview(entry, original, now), summary)
                else:
                    await self._pace()
                    submitted.append(self._target.submit(entry, original, now))
                continue
            summary.counts[verdict.value] += 1
            if verdict is not Verdict.NOT_SELECTED:
                self._emit(RecordReport(verdict.value, entry, event_ms, self._why(verdict, entry)))
        return positions, submitted, False

    def _mark(self, report: RecordReport) -> dict[str, Any]:
        """The replay record's entry for a record this run took back."""
        options = self._options
        return {
            "replay_id": options.id,
            "to": options.spec.target,
            "outcome": report.outcome,
            "event_id": report.event_id,
            "operator": options.operator,
            "replayed_at": format_time_ms(now_ms()),
        }

    def _emit_preview(self, report: RecordReport, summary: ReplaySummary) -> None:
        """A dry run's report; the payload preview only for the first ``previews`` records."""
        if report.preview is not None:
            if self._previews >= self._options.previews:
                report = replace(report, preview=None)
            else:
                self._previews += 1
        summary.counts[report.outcome] += 1
        self._emit(report)

    def _why(self, verdict: Verdict, entry: DeadLetterEntry) -> str | None:
        if verdict is Verdict.LOOP_GUARD:
            return f"replayed {entry.replay_count} times already; the limit is {self._rules.max_replays}"
        if verdict is Verdict.TOO_OLD:
            return "the event is older than policy.max_event_age; --force-age replays it anyway"
        return entry.problem

    async def _restore(self, entry: DeadLetterEntry, reduction: Reduction) -> DeadLetterEntry:
        """A reduced dead letter with its original bytes read back from the source topic."""
        assert entry.context is not None
        if self._sources is None:
            self._sources = await asyncio.to_thread(SourceFetcher, self._config.kafka)
        original = await asyncio.to_thread(self._sources.fetch, entry.context.source, reduction)
        return entry.restored(original, self._config.deadletter.header_prefix)

    def _read(self, entry: DeadLetterEntry) -> OriginalEvent:
        try:
            return self._reader.read(entry.original(self._config.deadletter.header_prefix))
        except TransientError as error:
            raise ReplayError(f"cannot decode: {error}; rerun when the schema registry answers") from None

    async def _pace(self) -> None:
        wait = self._bucket.reserve(time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)


# -- the audit record --------------------------------------------------------------------------------------------


def write_audit(config: RelayConfig, record: dict[str, Any]) -> None:
    """Write one replay audit record (keyed by the replay id) to ``deadletter.replay_audit_topic``, durably."""
    settings = config.deadletter
    topic = settings.replay_audit_topic
    if settings.create_topics:
        ensure_topics(admin_client(client_config(config.kafka)), {topic: TopicSpec()}, settings.replication_factor)
    producer = Producer(producer_config(config.kafka, settings))
    try:
        produce_all(producer, topic, [(str(record["replay_id"]).encode(), orjson.dumps(record))], TIMEOUT_S)
    except DeliveryError as error:
        raise ReplayError(f"the audit record was not written to {topic}: {error}") from None


def open_replay_record(config: RelayConfig) -> Producer:
    """The producer of the replay record, its compacted topic created first when missing."""
    settings = config.deadletter
    if settings.create_topics:
        admin = admin_client(client_config(config.kafka))
        ensure_topics(admin, {settings.replay_record_topic: TopicSpec(1, COMPACTED)}, settings.replication_factor)
    return Producer(producer_config(config.kafka, settings))
