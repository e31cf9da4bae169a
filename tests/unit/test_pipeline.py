"""The per-message flow: each message reaches exactly one outcome, and settles only once that outcome is durable."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable

from consumer.decode.errors import MalformedPayloadError, RegistryUnavailable
from consumer.model import (
    ConsentWithheld,
    DeadLettered,
    Delivered,
    Destination,
    DomainRecord,
    EventSource,
    Failure,
    OutboundEvent,
    Skipped,
    SourceMessage,
    SourceRef,
    Stage,
    TikTokEvent,
)
from consumer.observability.metrics import REGISTRY
from consumer.pipeline import PROCESS_SLICE, Pipeline, Sent, Translating
from consumer.policy.errors import EventTooOldError
from consumer.sending.job import GIVEN_UP, Report, SendOutcome
from consumer.settlement.ledger import Ledger, Position
from consumer.triage import INTERNAL_ERROR

TOPIC = "orders"


def message(offset: int, value: bytes = b"ok") -> SourceMessage:
    return SourceMessage(SourceRef(TOPIC, 0, offset), b"k", value)


class FakeDecoder:
    """Decodes ``b"ok"``; ``b"bad"`` is malformed; ``b"wait"`` fails transiently while ``registry_down``."""

    def __init__(self) -> None:
        self.registry_down = False
        self.calls = 0

    def decode(self, msg: SourceMessage) -> DomainRecord:
        self.calls += 1
        if msg.value == b"bad":
            raise MalformedPayloadError("not avro")
        if msg.value == b"wait" and self.registry_down:
            raise RegistryUnavailable("registry down")
        if msg.value == b"boom":
            raise KeyError("bug")
        return DomainRecord("Order", {"value": msg.value})


class FakeTranslator:
    """``b"denied"`` is withheld, ``b"old"`` is too old, ``b"skip"`` is skipped, anything else becomes a Purchase."""

    def translate(self, record: DomainRecord, ref: SourceRef, now_ms: int) -> OutboundEvent | ConsentWithheld | Skipped:
        value = record.value["value"]
        if value == b"skip":
            return Skipped(ref, "not-a-conversion")
        if value == b"denied":
            return ConsentWithheld(ref, "orders", "Purchase", f"e{ref.offset}", "consent_denied", now_ms)
        if value == b"old":
            raise EventTooOldError("too old", route="orders")
        event = TikTokEvent("Purchase", 1, f"e{ref.offset}")
        return OutboundEvent(ref, "orders", Destination(EventSource.WEB, "PIXEL"), event, "record")


class FakeSender:
    """Keeps a future per sent event for the test to resolve; resolving it reports the outcome to the pipeline."""

    def __init__(self) -> None:
        self.futures: dict[int, asyncio.Future[SendOutcome]] = {}

    def send(self, event: OutboundEvent, context: Sent, report: Report[Sent]) -> None:
        future: asyncio.Future[SendOutcome] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda done: report_done(done, context, report))
        self.futures[event.ref.offset] = future


def report_done(future: asyncio.Future[SendOutcome], context: Sent, report: Report[Sent]) -> None:
    """What the sender reports for an event whose outcome the test set: a cancelled future is a given-up event."""
    if future.cancelled():
        report(context, GIVEN_UP)
        return
    error = future.exception()
    if isinstance(error, Exception):
        report(context, error)
        return
    report(context, future.result())


class FakePublisher:
    """Keeps dead-letter and audit futures for the test to acknowledge."""

    def __init__(self) -> None:
        self.dead: dict[int, tuple[Failure, asyncio.Future[None]]] = {}
        self.audits: dict[int, asyncio.Future[None]] = {}

    def dead_letter(self, msg: SourceMessage, failure: Failure) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.dead[msg.ref.offset] = (failure, future)
        return future

    def audit(self, withheld: ConsentWithheld) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.audits[withheld.ref.offset] = future
        return future


class Rig:
    def __init__(self, translator: Translating | None = None) -> None:
        self.decoder = FakeDecoder()
        self.sender = FakeSender()
        self.publisher = FakePublisher()
        self.ledger = Ledger()
        self.ledger.assign([(TOPIC, 0)])
        self.pipeline = Pipeline(
            self.decoder,
            translator or FakeTranslator(),
            self.sender,
            self.publisher,
            self.ledger,
            transient_retry_max_s=0.01,
            clock_ms=lambda: 1_000,
        )

    def position(self) -> int | None:
        positions = self.ledger.positions()
        return positions[0].offset if positions else None


async def settle_callbacks() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition not reached")


async def test_a_delivered_event_settles() -> None:
    """The sender's Delivered outcome settles the message."""
    rig = Rig()
    rig.pipeline.process([message(0)])
    rig.sender.futures[0].set_result(Delivered(SourceRef(TOPIC, 0, 0)))
    await settle_callbacks()
    assert rig.ledger.take_positions() == [Position(TOPIC, 0, 1)]


async def test_nothing_settles_before_its_outcome_is_durable() -> None:
    """A message handed to the sender, the audit or the dead-letter topic stays unsettled until acknowledged."""
    rig = Rig()
    rig.pipeline.process([message(0), message(1, b"denied"), message(2, b"bad")])
    await settle_callbacks()
    assert rig.ledger.unsettled == 3
    assert rig.position() is None


async def test_undecodable_bytes_are_dead_lettered_then_settled() -> None:
    """A decode error goes to the dead-letter topic with its stage and reason; the ack settles it."""
    rig = Rig()
    rig.pipeline.process([message(0, b"bad")])
    failure, future = rig.publisher.dead[0]
    assert (failure.stage, failure.reason) == (Stage.DECODE, "decode_malformed")
    future.set_result(None)
    await settle_callbacks()
    assert rig.position() == 1


async def test_policy_rejections_carry_their_route() -> None:
    """A translate error is dead-lettered with the route that selected the record."""
    rig = Rig()
    rig.pipeline.process([message(0, b"old")])
    failure, _ = rig.publisher.dead[0]
    assert (failure.stage, failure.reason, failure.route) == (Stage.POLICY, "event_too_old", "orders")


async def test_consent_drops_settle_once_audited() -> None:
    """A withheld event is never sent; its audit acknowledgement settles it."""
    rig = Rig()
    rig.pipeline.process([message(0, b"denied")])
    assert rig.sender.futures == {}
    rig.publisher.audits[0].set_result(None)
    await settle_callbacks()
    assert rig.position() == 1


async def test_an_event_the_sender_gives_up_on_is_dead_lettered() -> None:
    """The sender's DeadLettered outcome sends the original message to the dead-letter topic with its failure."""
    rig = Rig()
    rig.pipeline.process([message(0)])
    failure = Failure(Stage.SEND, "tiktok_rejected", "TikTokRejectionError", "40002", tiktok_code=40002)
    rig.sender.futures[0].set_result(DeadLettered(SourceRef(TOPIC, 0, 0), failure))
    await settle_callbacks()
    assert rig.publisher.dead[0][0] == failure
    assert rig.position() is None


async def test_a_cancelled_send_leaves_the_message_for_replay() -> None:
    """When the sender shuts down with the event in flight, the message stays unsettled (replayed from Kafka)."""
    rig = Rig()
    rig.pipeline.process([message(0)])
    rig.sender.futures[0].cancel()
    await settle_callbacks()
    assert rig.ledger.unsettled == 1
    assert rig.publisher.dead == {}


async def test_a_bug_dead_letters_the_message_as_internal_error() -> None:
    """An unexpected exception does not stop the stream: the message is dead-lettered as internal_error."""
    rig = Rig()
    rig.pipeline.process([message(0, b"boom"), message(1)])
    assert rig.publisher.dead[0][0].reason == INTERNAL_ERROR
    assert 1 in rig.sender.futures


async def test_a_registry_outage_holds_messages_in_order_and_dead_letters_none() -> None:
    """A transient decode failure makes that message and every later one wait; they go on, in order, once the
    registry answers again, without one call per waiting message meanwhile."""
    rig = Rig()
    rig.decoder.registry_down = True
    rig.pipeline.process([message(0, b"wait"), message(1), message(2, b"wait")])
    assert rig.pipeline.held == 3
    assert rig.decoder.calls == 1
    assert rig.publisher.dead == {}

    rig.decoder.registry_down = False
    await wait_for(lambda: rig.pipeline.held == 0)
    assert sorted(rig.sender.futures) == [0, 1, 2]


async def test_messages_of_revoked_partitions_stop_waiting() -> None:
    """A revoke drops the partition's waiting messages: its next owner replays them."""
    rig = Rig()
    rig.decoder.registry_down = True
    rig.pipeline.process([message(0, b"wait"), message(1)])
    rig.pipeline.forget([(TOPIC, 0)])
    assert rig.pipeline.held == 0
    rig.pipeline.close()


async def test_a_skipped_record_settles_at_once_without_sending_or_dead_lettering() -> None:
    """A record a skip rule takes settles immediately: nothing is sent, audited or dead-lettered."""
    rig = Rig()
    rig.pipeline.process([message(0, b"skip")])
    assert (rig.sender.futures, rig.publisher.dead, rig.publisher.audits) == ({}, {}, {})
    assert rig.position() == 1


async def test_a_durable_write_that_failed_does_not_settle_its_message() -> None:
    """A dead-letter or audit future that completes with an exception means the record is not durable: the
    message stays unsettled (replayed from Kafka) instead of being committed past."""
    rig = Rig()
    rig.pipeline.process([message(0, b"bad"), message(1, b"denied")])
    rig.publisher.dead[0][1].set_exception(RuntimeError("dead-letter topic refused the record"))
    rig.publisher.audits[1].set_exception(RuntimeError("audit topic refused the record"))
    await settle_callbacks()
    assert rig.ledger.unsettled == 2
    assert rig.position() is None


class Alive:
    """Held only by a ``TrackedEvent``: a weak reference to it tells whether the event still lives."""


class TrackedEvent(OutboundEvent):
    """An ``OutboundEvent`` that holds an ``Alive`` a test can weakly refer to (a tuple cannot be weakly referred
    to)."""

    alive: Alive


class TrackingTranslator(FakeTranslator):
    """Like ``FakeTranslator``, keeping a weak reference to every event it maps."""

    def __init__(self) -> None:
        self.mapped: list[weakref.ref[Alive]] = []

    def translate(self, record: DomainRecord, ref: SourceRef, now_ms: int) -> OutboundEvent | ConsentWithheld | Skipped:
        result = super().translate(record, ref, now_ms)
        if not isinstance(result, OutboundEvent):
            return result
        tracked = TrackedEvent(result.ref, result.route, result.destination, result.event, result.event_id_origin)
        tracked.alive = Alive()
        self.mapped.append(weakref.ref(tracked.alive))
        return tracked


async def test_a_message_waiting_for_the_sender_does_not_keep_its_mapped_event() -> None:
    """What waits for the sender's outcome is what settling or dead-lettering needs (the source message, its token,
    the route and event names), not the whole ``OutboundEvent``: the sender keeps the encoded event it sends, and a
    second copy per unsettled message is what made memory grow under overload."""
    translator = TrackingTranslator()
    rig = Rig(translator)
    rig.pipeline.process([message(0), message(1, b"denied")])
    gc.collect()
    assert len(translator.mapped) == 1
    assert translator.mapped[0]() is None
    rig.sender.futures[0].set_result(DeadLettered(SourceRef(TOPIC, 0, 0), failure_of_send()))
    await settle_callbacks()
    failure, written = rig.publisher.dead[0]
    assert failure.reason == "tiktok_rejected"
    written.set_result(None)
    rig.publisher.audits[1].set_result(None)
    await settle_callbacks()
    assert rig.position() == 2


def failure_of_send() -> Failure:
    return Failure(Stage.SEND, "tiktok_rejected", "TikTokRejectionError", "code 40002", route="orders")


def coverage_events(route: str = "orders") -> float:
    labels = {"route": route, "event": "Purchase", "event_source": "web", "event_id_origin": "record"}
    return REGISTRY.get_sample_value("tiktok_relay_coverage_events_total", labels) or 0.0


async def test_counts_reach_the_counters_once_per_poll_loop_turn() -> None:
    """Per-event counts (here the coverage of mapped events and the consumed messages) are tallied and added to the
    Prometheus counters by ``flush_metrics``, which the poll loop calls once per turn, not one ``inc`` per event."""
    consumed = REGISTRY.get_sample_value("tiktok_relay_consumed_total", {"topic": TOPIC}) or 0.0
    covered = coverage_events()
    rig = Rig()
    rig.pipeline.process([message(0), message(1), message(2)])
    assert coverage_events() == covered
    rig.pipeline.flush_metrics()
    assert coverage_events() == covered + 3
    assert REGISTRY.get_sample_value("tiktok_relay_consumed_total", {"topic": TOPIC}) == consumed + 3
    rig.pipeline.flush_metrics()
    assert coverage_events() == covered + 3


async def test_a_batch_is_counted_per_topic_and_translated_at_one_clock_reading() -> None:
    """``process`` counts a batch's consumed messages per topic (not those of partitions it does not own) and reads
    the clock once for the batch: every message of it is translated at the same ``now_ms``."""
    seen: list[int] = []
    readings = iter(range(5_000, 6_000))

    class Recording(FakeTranslator):
        def translate(
            self, record: DomainRecord, ref: SourceRef, now_ms: int
        ) -> OutboundEvent | ConsentWithheld | Skipped:
            seen.append(now_ms)
            return super().translate(record, ref, now_ms)

    def consumed(topic: str) -> float:
        return REGISTRY.get_sample_value("tiktok_relay_consumed_total", {"topic": topic}) or 0.0

    rig = Rig()
    rig.ledger.assign([("returns", 0)])
    pipeline = Pipeline(
        rig.decoder, Recording(), rig.sender, rig.publisher, rig.ledger, clock_ms=lambda: next(readings)
    )
    before = consumed(TOPIC), consumed("returns")
    batch = [message(0), SourceMessage(SourceRef("returns", 0, 0), b"k", b"ok"), message(1)]
    pipeline.process([*batch, SourceMessage(SourceRef("returns", 1, 0), b"k", b"ok")])  # partition 1 is not owned
    pipeline.process([message(2)])
    pipeline.flush_metrics()
    assert seen == [5_000, 5_000, 5_000, 5_001]
    assert (consumed(TOPIC), consumed("returns")) == (before[0] + 3, before[1] + 1)


async def test_a_large_batch_starts_a_slice_at_a_time_in_order() -> None:
    """``process_in_slices`` (the poll loop's way in) starts a batch larger than ``PROCESS_SLICE`` in consumed order
    and lets the event loop run between slices: a callback that was ready before the batch runs once the first
    slice is started, not after the whole batch."""
    rig = Rig()
    started_when_the_loop_ran: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: started_when_the_loop_ran.append(len(rig.sender.futures)))
    batch = [message(n) for n in range(2 * PROCESS_SLICE + 1)]
    await rig.pipeline.process_in_slices(batch)
    assert list(rig.sender.futures) == [m.ref.offset for m in batch]
    assert started_when_the_loop_ran == [PROCESS_SLICE]
    assert rig.ledger.unsettled == len(batch)
