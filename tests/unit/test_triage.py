"""One message's triage: decode -> translate -> classify the failure, as a value the service, the replay, the report
and ``map`` share."""

from __future__ import annotations

import asyncio

import pytest

from consumer.decode.errors import MalformedPayloadError, RegistryUnavailable, SchemaFetchPendingError
from consumer.mapping.errors import NoRouteError
from consumer.model import (
    ConsentWithheld,
    Destination,
    DomainRecord,
    EventSource,
    OutboundEvent,
    Skipped,
    SourceMessage,
    SourceRef,
    Stage,
    TikTokEvent,
)
from consumer.policy.errors import EventTooOldError
from consumer.triage import INTERNAL_ERROR, Failed, Held, decode_message, translate_record, triage

NOW_MS = 1_700_000_000_000
REF = SourceRef("orders", 0, 7)


def message(value: bytes) -> SourceMessage:
    return SourceMessage(REF, b"k", value)


class Decoder:
    """``b"bad"`` is malformed, ``b"down"`` meets a registry outage, ``b"fetching"`` a schema being fetched,
    ``b"boom"`` a bug; anything else decodes to a record holding the bytes."""

    def __init__(self) -> None:
        self.ready: asyncio.Future[object] | None = None

    def decode(self, msg: SourceMessage) -> DomainRecord:
        if msg.value == b"bad":
            raise MalformedPayloadError("not avro")
        if msg.value == b"down":
            raise RegistryUnavailable("registry down")
        if msg.value == b"fetching":
            assert self.ready is not None
            raise SchemaFetchPendingError("schema 3 being fetched", self.ready)
        if msg.value == b"boom":
            raise KeyError("decoder bug")
        return DomainRecord("Order", {"value": msg.value})


def translate(record: DomainRecord, ref: SourceRef, now_ms: int) -> OutboundEvent | ConsentWithheld | Skipped:
    """``b"denied"`` is withheld, ``b"skip"`` skipped, ``b"old"`` too old, ``b"unrouted"`` has no route,
    ``b"bug"`` hits a bug; anything else becomes a Purchase."""
    value = record.value["value"]
    if value == b"denied":
        return ConsentWithheld(ref, "orders", "Purchase", "e7", "consent_denied", now_ms)
    if value == b"skip":
        return Skipped(ref, "not-a-conversion")
    if value == b"old":
        raise EventTooOldError("older than 7 days", route="orders")
    if value == b"unrouted":
        raise NoRouteError("no route of topic orders selects schema Order")
    if value == b"bug":
        raise ZeroDivisionError("mapper bug")
    return OutboundEvent(
        ref, "orders", Destination(EventSource.WEB, "PIXEL"), TikTokEvent("Purchase", 1, "e7"), "record"
    )


def test_a_good_record_is_translated_into_the_event_to_send() -> None:
    result = triage(Decoder(), translate, message(b"ok"), NOW_MS)
    assert isinstance(result, OutboundEvent)
    assert result.ref == REF and result.event.event == "Purchase"


def test_withheld_and_skipped_records_come_back_as_the_translator_says() -> None:
    withheld = triage(Decoder(), translate, message(b"denied"), NOW_MS)
    skipped = triage(Decoder(), translate, message(b"skip"), NOW_MS)
    assert withheld == ConsentWithheld(REF, "orders", "Purchase", "e7", "consent_denied", NOW_MS)
    assert skipped == Skipped(REF, "not-a-conversion")


def test_a_malformed_payload_fails_at_decode_with_its_reason_and_no_route() -> None:
    result = triage(Decoder(), translate, message(b"bad"), NOW_MS)
    assert isinstance(result, Failed)
    failure = result.failure
    assert (failure.stage, failure.reason, failure.route) == (Stage.DECODE, "decode_malformed", None)
    assert (failure.exception_class, failure.message) == ("MalformedPayloadError", "not avro")
    assert failure.first_failure_ms == failure.last_failure_ms == NOW_MS
    assert isinstance(result.error, MalformedPayloadError)


def test_a_registry_outage_holds_the_message_instead_of_failing_it() -> None:
    result = triage(Decoder(), translate, message(b"down"), NOW_MS)
    assert isinstance(result, Held)
    assert isinstance(result.error, RegistryUnavailable)


async def test_a_schema_being_fetched_holds_the_message_and_says_what_to_wait_for() -> None:
    decoder = Decoder()
    decoder.ready = asyncio.get_running_loop().create_future()
    result = triage(decoder, translate, message(b"fetching"), NOW_MS)
    assert isinstance(result, Held)
    assert isinstance(result.error, SchemaFetchPendingError)
    assert result.error.ready is decoder.ready  # the pipeline retries when it is done, without backoff


def test_a_policy_rejection_fails_at_policy_naming_its_route() -> None:
    result = triage(Decoder(), translate, message(b"old"), NOW_MS)
    assert isinstance(result, Failed)
    assert (result.failure.stage, result.failure.reason, result.failure.route) == (
        Stage.POLICY,
        "event_too_old",
        "orders",
    )


def test_a_record_no_route_takes_fails_at_map_as_no_route() -> None:
    result = triage(Decoder(), translate, message(b"unrouted"), NOW_MS)
    assert isinstance(result, Failed)
    assert (result.failure.stage, result.failure.reason, result.failure.route) == (Stage.MAP, "no_route", None)


def test_a_bug_in_decoding_is_an_internal_error_at_decode_not_an_exception() -> None:
    result = triage(Decoder(), translate, message(b"boom"), NOW_MS)
    assert isinstance(result, Failed)
    assert (result.failure.stage, result.failure.reason, result.failure.exception_class) == (
        Stage.DECODE,
        INTERNAL_ERROR,
        "KeyError",
    )


def test_a_bug_in_mapping_is_an_internal_error_at_map_naming_the_route_already_selected() -> None:
    record = DomainRecord("Order", {"value": b"bug"})
    result = translate_record(translate, record, REF, NOW_MS, route="orders")
    assert isinstance(result, Failed)
    failure = result.failure
    assert (failure.stage, failure.reason, failure.route) == (Stage.MAP, INTERNAL_ERROR, "orders")
    assert (failure.exception_class, failure.message) == ("ZeroDivisionError", "mapper bug")


def test_decoding_alone_gives_the_record_for_a_caller_that_translates_later() -> None:
    record = decode_message(Decoder(), message(b"ok"), NOW_MS)
    assert record == DomainRecord("Order", {"value": b"ok"})


@pytest.mark.parametrize("value", [b"ok", b"denied", b"old"])
def test_any_translate_function_goes_through_the_same_ladder(value: bytes) -> None:
    """The report and ``map`` pass the translator's ``explain``: same classification, their own result type."""

    def explain(record: DomainRecord, ref: SourceRef, now_ms: int) -> tuple[str, object]:
        return ("explained", translate(record, ref, now_ms))

    direct = triage(Decoder(), translate, message(value), NOW_MS)
    explained = triage(Decoder(), explain, message(value), NOW_MS)
    if isinstance(direct, Failed):
        assert isinstance(explained, Failed) and explained.failure == direct.failure
    else:
        assert explained == ("explained", direct)
