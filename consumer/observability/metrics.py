"""Prometheus metrics, one definition each, shared by every stage. Label values are bounded: topic, route, event
name, outcome, reason category, TikTok code. Never an id, an identifier or free text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
NS = "tiktok_relay"

CONSUMED = Counter(f"{NS}_consumed", "Kafka messages consumed", ["topic"], registry=REGISTRY)
DECODED = Counter(f"{NS}_decoded", "messages decoded", ["topic"], registry=REGISTRY)
MAPPED = Counter(f"{NS}_mapped", "events mapped and approved by policy", ["route", "event"], registry=REGISTRY)
CONSENT_DROPPED = Counter(
    f"{NS}_consent_dropped", "events withheld for lack of consent (audited)", ["route", "event"], registry=REGISTRY
)
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
PAUSED_PARTITIONS = Gauge(f"{NS}_paused_partitions", "partitions paused for back-pressure", registry=REGISTRY)
CONSUMER_LAG = Gauge(
    f"{NS}_consumer_lag", "high watermark minus committed offset", ["topic", "partition"], registry=REGISTRY
)
AUTH_FAULT = Gauge(f"{NS}_auth_fault", "1 while TikTok rejects the token or permission (holding)", registry=REGISTRY)
