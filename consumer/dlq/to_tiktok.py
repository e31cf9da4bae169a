"""`dlq replay --to tiktok`: decode, map, policy and send from the replay itself, as the service would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import replace

import orjson

from consumer import __version__
from consumer.config import RelayConfig
from consumer.consent_table.reader import consent_table_reader
from consumer.deadletter.publisher import DeadLetterPublisher
from consumer.dlq.inspect import masked
from consumer.dlq.original import OriginalEvent
from consumer.dlq.report import (
    CONSENT_WITHHELD,
    FAILED_AGAIN,
    REPLAYED,
    SKIPPED,
    WOULD_FAIL_AGAIN,
    WOULD_REPLAY,
    WOULD_SKIP,
    WOULD_WITHHOLD,
    RecordReport,
    ReplayError,
    now_ms,
)
from consumer.dlq.selection import DeadLetterEntry, replayed_headers
from consumer.dlq.target import CLOSE_TIMEOUT_S
from consumer.errors import ConfigError
from consumer.mapping.translator import Translation, Translator
from consumer.model import (
    ConsentWithheld,
    DeadLettered,
    Delivered,
    Failure,
    OutboundEvent,
    Skipped,
    SourceMessage,
    WithheldAtSend,
)
from consumer.pipeline import withheld_at_send
from consumer.sending.body import RequestEncoder, encode_event
from consumer.sending.sender import Sender
from consumer.sending.tokens import TokenStore
from consumer.triage import Failed, translate_record

AUTH_CHECK_S = 0.2


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
            tiktok = event.event
            await self._publisher.audit(withheld_at_send(outcome, event.route, tiktok.event, tiktok.event_id, now_ms()))
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
