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

The parts: this module is the run (``Replay``); ``target`` with ``to_source`` and ``to_tiktok`` the two targets;
``report`` the per-record reports and the run's summary; ``audit`` the audit record; ``replayed`` the replay record.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import structlog
from confluent_kafka import KafkaException, Producer

from consumer.config import RelayConfig
from consumer.deadletter.record import Reduction
from consumer.decode.avro import Decoder
from consumer.dlq.audit import write_audit
from consumer.dlq.original import OriginalEvent, OriginalReader
from consumer.dlq.replayed import Replayed, ReplayRecordError, open_replay_record, read_replayed, write_replayed
from consumer.dlq.report import ORIGINAL_GONE, RecordReport, ReplayError, ReplayOptions, ReplaySummary, now_ms
from consumer.dlq.scan import DeadLetterScan
from consumer.dlq.selection import DeadLetterEntry, Rules, Verdict, decide, group_id, needs_event_time
from consumer.dlq.source import OriginalGoneError, SourceFetcher
from consumer.dlq.target import ReplayTarget
from consumer.dlq.to_source import SourceTarget
from consumer.dlq.to_tiktok import TikTokTarget
from consumer.kafka.bounded import TopicNotFoundError
from consumer.mapping.translator import Translator
from consumer.model import TransientError
from consumer.sending.limits import TokenBucket
from consumer.sending.tokens import TokenStore
from consumer.times import format_time_ms

log = structlog.get_logger(__name__)

NO_AGE_LIMIT = timedelta(days=36_500)
"""The event age window of a direct replay with ``force_age``: none to speak of."""


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
