"""The consent table reader's thread: if it dies, the service must notice (liveness), not keep sending with a table
that no longer hears withdrawals."""

from __future__ import annotations

from consumer.consent_table.reader import ConsentTableReader
from consumer.consent_table.settings import ConsentTableSettings
from consumer.intake.settings import KafkaSettings
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
