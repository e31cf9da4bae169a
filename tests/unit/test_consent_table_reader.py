"""The consent table reader's thread: if it dies, the service must notice (liveness), not keep sending with a table
that no longer hears withdrawals."""

from __future__ import annotations

import asyncio

import pytest

from consumer.consent_table import reader as reader_module
from consumer.consent_table.reader import ConsentTableReader
from consumer.consent_table.settings import ConsentTableSettings
from consumer.kafka.settings import KafkaSettings
from consumer.model import DomainRecord, SourceMessage


class NoDecoder:
    def decode(self, message: SourceMessage) -> DomainRecord:
        raise AssertionError("nothing is read")


def test_a_reader_whose_thread_died_is_not_alive() -> None:
    """A consumer librdkafka refuses to create ends the thread: not alive, never caught up."""
    settings = ConsentTableSettings(topic="consent", consumer={"no.such.property": "x"})
    reader = ConsentTableReader(settings, KafkaSettings(bootstrap_servers="127.0.0.1:1"), NoDecoder())
    assert reader.alive  # not started: nothing has died
    reader.start()
    reader.join(timeout_s=30)
    assert not reader.alive
    assert not reader.caught_up


def test_a_reader_that_cannot_reach_the_brokers_at_start_keeps_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Brokers unreachable when the table starts (a metadata request that times out) is waited out like a missing
    topic: the thread stays alive instead of dying and restarting the pod in a loop."""
    monkeypatch.setattr(reader_module, "METADATA_TIMEOUT_S", 0.2)
    monkeypatch.setattr(reader_module, "MISSING_TOPIC_RETRY_S", 0.1)
    reader = ConsentTableReader(
        ConsentTableSettings(topic="consent"), KafkaSettings(bootstrap_servers="127.0.0.1:1"), NoDecoder()
    )
    reader.start()
    try:
        reader.join(timeout_s=2.0)
        assert reader.alive
        assert not reader.caught_up
    finally:
        asyncio.run(reader.close())
