"""The demo's pure parts: the example config moved under a namespace, and the account of where events ended."""

from __future__ import annotations

from consumer.config import parse_config
from consumer.demo import (
    CONSENT_DROPPED,
    DEAD_LETTERED,
    DELIVERED,
    EXAMPLE_CONFIG,
    Produced,
    account,
    isolated_config,
    load_example,
    source_topics,
)
from consumer.model import SourceRef


def produced(offset: int, event_id: str | None, expect: str) -> Produced:
    return Produced(SourceRef("t", 0, offset), event_id, expect)


def test_isolated_config_moves_every_topic_under_the_namespace() -> None:
    """Routes, schema entries, group and audit topic are namespaced, and the result is a valid config."""
    data = isolated_config(
        load_example(), bootstrap_servers="127.0.0.1:1", track_url="http://127.0.0.1:2/t/", namespace="ns"
    )
    config = parse_config(data, EXAMPLE_CONFIG.parent)
    assert all(topic.startswith("ns.") for topic in source_topics(data))
    assert set(config.schemas.topics) == set(source_topics(data))
    assert (config.kafka.group_id, config.deadletter.audit_topic) == ("ns.relay", "ns.consent-audit")
    assert config.tiktok.endpoint == "http://127.0.0.1:2/t/"


def test_account_counts_each_place_and_what_is_nowhere() -> None:
    """Delivered is matched by event_id, dead-lettered and audited by source reference; the rest is lost."""
    events = [
        produced(0, "a", DELIVERED),
        produced(1, None, DEAD_LETTERED),
        produced(2, "c", CONSENT_DROPPED),
        produced(3, "d", DELIVERED),
    ]
    summary = account(events, {"a"}, [SourceRef("t", 0, 1)], [SourceRef("t", 0, 2)])
    assert (summary.produced, summary.delivered, summary.dead_lettered, summary.consent_dropped, summary.lost) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert summary.line() == "demo: produced=4 delivered=1 consent_dropped=1 dead_lettered=1 lost=1"
