"""The demo's pure parts: the example config moved under a namespace, and the account of where events ended."""

from __future__ import annotations

from consumer.config import parse_config
from consumer.demo.run import (
    CONSENT_DROPPED,
    DEAD_LETTERED,
    DELIVERED,
    EXAMPLE_CONFIG,
    Produced,
    account,
    app_topics,
    isolated_config,
    load_example,
    sample_messages,
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
    assert config.tiktok.allow_custom_endpoint  # a loopback sandbox needs the flag


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
    assert summary.line() == (
        "demo: produced=4 delivered=1 consent_dropped=1 dead_lettered=1 lost=1 app_orders=0 app_delivered=0"
    )


def test_account_counts_app_orders_and_those_delivered() -> None:
    """Events produced to an app route's topic are app orders; those the sandbox accepted are delivered."""
    events = [
        Produced(SourceRef("app", 0, 0), "a", DELIVERED),
        Produced(SourceRef("app", 0, 1), "b", CONSENT_DROPPED),
        Produced(SourceRef("web", 0, 0), "c", DELIVERED),
    ]
    summary = account(events, {"a", "c"}, [], [SourceRef("app", 0, 1)], app_topics={"app"})
    assert (summary.delivered, summary.app_orders, summary.app_delivered) == (2, 2, 1)
    assert summary.line().endswith("lost=0 app_orders=2 app_delivered=1")


def test_app_topics_are_the_topics_of_app_routes() -> None:
    assert app_topics(load_example()) == ["app.orders.paid"]


def test_demo_produces_app_orders_and_every_topic_gets_the_whole_mix() -> None:
    """The demo writes web orders, leads and in-app orders; each topic gets every kind of sample, and the totals
    are those the README quotes (150 delivered, 20 withheld, 30 dead-lettered of 200)."""
    messages = sample_messages("ns", 200)
    kinds: dict[str, set[bytes]] = {}
    for message in messages:
        kinds.setdefault(message.topic, set()).add(dict(message.headers)["sample-kind"])  # type: ignore[arg-type]
    assert set(kinds) == {"ns.orders.paid", "ns.leads.submitted", "ns.app.orders.paid"}
    assert all(len(found) == 4 for found in kinds.values())
    expected = [message.expect for message in messages]
    assert (expected.count(DELIVERED), expected.count(CONSENT_DROPPED), expected.count(DEAD_LETTERED)) == (150, 20, 30)
    assert sum(message.topic == "ns.app.orders.paid" for message in messages) == 66
