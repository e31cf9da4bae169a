"""The test broker is a real Kafka broker: messages round-trip through it with keys, values and headers."""

from __future__ import annotations

from confluent_kafka import Producer

from tests.integration.conftest import TopicFactory, consume_all


def test_produce_and_consume_round_trip(bootstrap_servers: str, new_topic: TopicFactory, producer: Producer) -> None:
    """Messages produced to a fresh 3-partition topic are consumed back byte-for-byte, headers included."""
    topic = new_topic("roundtrip", partitions=3)
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(30)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value, headers=[("h", b"\x00\x01")])
    assert producer.flush(30) == 0

    received = consume_all(bootstrap_servers, topic, expected=len(sent))

    assert {m.key(): m.value() for m in received} == sent
    assert all(m.headers() == [("h", b"\x00\x01")] for m in received)
    assert {m.partition() for m in received} == {0, 1, 2}
