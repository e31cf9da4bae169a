"""Prometheus metrics, one definition each, shared by every stage. Label values are bounded: topic, route, event
name, outcome, reason category, TikTok code. Never an id, an identifier or free text."""

from __future__ import annotations

import contextlib
import platform
from functools import cache

import confluent_kafka
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from consumer import __version__

REGISTRY = CollectorRegistry(auto_describe=True)
NS = "tiktok_relay"

# prometheus-client's default collectors: process_* (CPU, memory, file descriptors, start time), python_info and
# python_gc_*, which the relay's own registry would otherwise leave out.
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)
BUILD_INFO = Gauge(
    f"{NS}_build_info",
    "always 1; the labels say which relay, Python and librdkafka versions run",
    ["version", "python", "librdkafka"],
    registry=REGISTRY,
)
BUILD_INFO.labels(__version__, platform.python_version(), confluent_kafka.libversion()[0]).set(1)

CONSUMED = Counter(f"{NS}_consumed", "Kafka messages consumed", ["topic"], registry=REGISTRY)
DECODED = Counter(f"{NS}_decoded", "messages decoded", ["topic"], registry=REGISTRY)
MAPPED = Counter(f"{NS}_mapped", "events mapped and approved by policy", ["route", "event"], registry=REGISTRY)
CONSENT_DROPPED = Counter(
    f"{NS}_consent_dropped", "events withheld for lack of consent (audited)", ["route", "event"], registry=REGISTRY
)
WITHHELD_AT_SEND = Counter(
    f"{NS}_withheld_at_send",
    "events the consent table withheld just before a send or retry (consent withdrawn after the event), audited",
    ["route", "reason"],
    registry=REGISTRY,
)
SKIPPED = Counter(f"{NS}_skipped", "records a skip rule declares no conversion", ["rule"], registry=REGISTRY)
SENT = Counter(f"{NS}_events_sent", "events included in a request to TikTok", ["event_source"], registry=REGISTRY)
DELIVERED = Counter(f"{NS}_delivered", "events TikTok accepted (code 0/20001)", ["route", "event"], registry=REGISTRY)
RETRIED = Counter(f"{NS}_retries", "request retries by cause", ["cause"], registry=REGISTRY)
DEAD_LETTERED = Counter(
    f"{NS}_dead_lettered", "messages dead-lettered, by stage and reason", ["stage", "reason"], registry=REGISTRY
)
TIKTOK_RESPONSES = Counter(
    f"{NS}_tiktok_responses",
    "TikTok responses by HTTP status and body code",
    ["http_status", "code"],
    registry=REGISTRY,
)
BATCH_EVENTS = Histogram(
    f"{NS}_batch_events",
    "events per request",
    buckets=(1, 5, 10, 50, 100, 250, 500, 750, 1000),
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    f"{NS}_request_seconds",
    "TikTok request latency",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
IN_FLIGHT_REQUESTS = Gauge(f"{NS}_in_flight_requests", "requests to TikTok in flight", registry=REGISTRY)
UNSETTLED = Gauge(f"{NS}_unsettled_messages", "consumed messages not yet settled", registry=REGISTRY)
SENDER_RETAINED_EVENTS = Gauge(
    f"{NS}_sender_retained_events", "events the sender holds whose outcome is not known yet", registry=REGISTRY
)
SENDER_RETAINED_JOBS = Gauge(
    f"{NS}_sender_retained_jobs", "requests in flight, waiting to retry or holding", registry=REGISTRY
)
SENDER_RETAINED_UNASSIGNED = Gauge(
    f"{NS}_sender_retained_unassigned_events",
    "events the sender holds for partitions this member does not own (work a revoke should have given up: 0)",
    registry=REGISTRY,
)
PAUSED_PARTITIONS = Gauge(f"{NS}_paused_partitions", "partitions paused for back-pressure", registry=REGISTRY)
CONSUMER_LAG = Gauge(
    f"{NS}_consumer_lag", "high watermark minus committed offset", ["topic", "partition"], registry=REGISTRY
)
CONSUME_DELAY = Histogram(
    f"{NS}_consume_delay_seconds",
    "seconds from the Kafka timestamp of each consume batch's oldest record to its consumption: how far behind the "
    "producers the relay reads (the producers' clocks: skew shows here)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
UNHASHED_PII_REJECTIONS = Counter(
    f"{NS}_unhashed_pii_rejections",
    "requests TikTok rejected with 40062 (PII not hashed): a hashing bug in the relay, alert on any",
    registry=REGISTRY,
)
OLDEST_UNSETTLED_AGE = Gauge(
    f"{NS}_oldest_unsettled_age_seconds",
    "seconds since the oldest unsettled message of the partition was consumed (0: nothing unsettled); its offset "
    "and everything after it wait for it to be committed",
    ["topic", "partition"],
    registry=REGISTRY,
)
AUTH_FAULT = Gauge(f"{NS}_auth_fault", "1 while TikTok rejects the token or permission (holding)", registry=REGISTRY)
SETTLED = Counter(
    f"{NS}_settled",
    "messages settled (offset may be committed), by outcome: delivered, dead_lettered, consent_dropped, skipped",
    ["topic", "outcome"],
    registry=REGISTRY,
)
REBALANCES = Counter(f"{NS}_rebalance_partitions", "partitions assigned, revoked or lost", ["event"], registry=REGISTRY)
DURABLE_WRITE_RETRIES = Counter(
    f"{NS}_durable_write_retries",
    "dead-letter or audit writes Kafka did not acknowledge, retried (the offset waits)",
    ["kind"],
    registry=REGISTRY,
)
DEAD_LETTERS_REDUCED = Counter(
    f"{NS}_dead_letters_reduced",
    "dead letters too large to write whole, written without their value (see docs/dlq.md)",
    ["topic"],
    registry=REGISTRY,
)
DURABLE_WRITE_UNAUTHORISED = Gauge(
    f"{NS}_durable_write_unauthorised",
    "1 while Kafka refuses this service writes to the dead-letter or audit topic (holding, not ready)",
    ["topic"],
    registry=REGISTRY,
)


def remove_partition_series(topic: str, partition: int) -> None:
    """Drop the per-partition series (lag, oldest unsettled age) of a partition this member no longer owns."""
    for gauge in (CONSUMER_LAG, OLDEST_UNSETTLED_AGE):
        with contextlib.suppress(KeyError):
            gauge.remove(topic, str(partition))


# Match-quality coverage (consumer.observability.coverage records these; the report and the dashboard read them).
COVERAGE_EVENTS = Counter(
    f"{NS}_coverage_events",
    "events handed to the sender, by event_source and event_id origin (record = shared with the Pixel, or derived)",
    ["route", "event", "event_source", "event_id_origin"],
    registry=REGISTRY,
)
IDENTIFIER_PRESENT = Counter(
    f"{NS}_identifier_present",
    "events handed to the sender that carry a user identifier (email, phone, external_id, ttclid, ttp, ip, ...)",
    ["route", "event", "identifier"],
    registry=REGISTRY,
)
IDENTIFIER_UNPARSEABLE = Counter(
    f"{NS}_identifier_unparseable",
    "identifiers present in the record but dropped because they could not be normalised (e.g. a bad phone)",
    ["route", "event", "identifier"],
    registry=REGISTRY,
)
ATT_STATUS = Counter(
    f"{NS}_att_status",
    "app events handed to the sender, by the App Tracking Transparency status they carry (AUTHORIZED, DENIED, ...)",
    ["route", "event", "att_status"],
    registry=REGISTRY,
)
COVERAGE_FAILURES = Counter(
    f"{NS}_coverage_failures",
    "dead-lettered events by route and event name (unknown before mapping), stage and reason",
    ["route", "event", "stage", "reason"],
    registry=REGISTRY,
)

# Sender (consumer.sending.sender).
BATCH_SPLITS = Counter(
    f"{NS}_batch_splits", "rejected batches split in halves to isolate the offending events", registry=REGISTRY
)

# Decoding (consumer.decode.schemas).
SCHEMA_FETCHES = Counter(
    f"{NS}_schema_fetches",
    "schema registry lookups by outcome: ok, not_found, invalid (not an Avro record), unavailable (retried)",
    ["outcome"],
    registry=REGISTRY,
)

# Mapping and policy (consumer.mapping.translator).
IDENTIFIERS_DROPPED = Counter(
    f"{NS}_identifiers_dropped",
    "identifiers dropped from an event that was still sent, by cause: unparseable (a phone), invalid (an email "
    "without @, a country that is not a 2-letter code), pii (an email-like value in a property or page URL)",
    ["route", "identifier", "cause"],
    registry=REGISTRY,
)


@cache
def child(metric: Counter, *labels: str) -> Counter:
    """``metric.labels(*labels)``, looked up once per label set: the per-event paths count through this, and label
    values are bounded (see the module docstring), so the cache is too."""
    return metric.labels(*labels)


# Consent table (consumer.consent_table.reader).
CONSENT_SUBJECTS = Gauge(f"{NS}_consent_subjects", "subjects the consent table knows", registry=REGISTRY)
CONSENT_TABLE_LAG = Gauge(
    f"{NS}_consent_table_lag",
    "consent topic records not yet read into the table (high watermark minus position, all partitions)",
    registry=REGISTRY,
)
CONSENT_TABLE_CAUGHT_UP = Gauge(
    f"{NS}_consent_table_caught_up", "1 once the table has read its topic to the end at start-up", registry=REGISTRY
)
CONSENT_TABLE_INVALID = Counter(
    f"{NS}_consent_table_invalid",
    "consent topic records the table could not read (no key, undecodable value), skipped",
    ["cause"],
    registry=REGISTRY,
)
