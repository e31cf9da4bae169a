"""The delivery guarantee under faults: a SIGKILL mid-stream, a second consumer joining and leaving, a long TikTok
outage. In every case each produced event ends up delivered, dead-lettered or audited (lost = 0)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bench.stack import SandboxProcess
from consumer.demo.run import GRANTED, Produced, produce, sample_message
from tests.integration.conftest import Outcomes, RelayProcess, RelaySetup, RelaySetupFactory

OutcomesFactory = Callable[[RelaySetup], Outcomes]


class Stream(threading.Thread):
    """Produces ``chunks`` chunks of ``size`` granted OrderPaid events, ``pause_s`` apart, in the background."""

    def __init__(self, setup: RelaySetup, chunks: int, size: int, pause_s: float) -> None:
        super().__init__(daemon=True)
        self._setup, self._chunks, self._size, self._pause_s = setup, chunks, size, pause_s
        self.produced: list[Produced] = []

    def run(self) -> None:
        tag = uuid.uuid4().hex[:6]
        topic = self._setup.topic("orders.paid")
        for chunk in range(self._chunks):
            now = datetime.now(UTC)
            messages = [
                sample_message(topic, "OrderPaid", f"{tag}-{chunk}-{i}", GRANTED, now) for i in range(self._size)
            ]
            self.produced.extend(produce(self._setup.bootstrap_servers, messages))
            time.sleep(self._pause_s)

    def finish(self) -> list[Produced]:
        self.join(timeout=120)
        return self.produced


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def gauge(relay: RelayProcess, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", relay.metrics(), re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_sigkill_mid_stream_then_restart_loses_nothing(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """A relay killed with SIGKILL while events flow (requests in flight, offsets not yet committed) and started
    again delivers every event; repeats carry the same event_id, so TikTok counts each event once."""
    setup = relay_setup()
    first = setup.start_relay().wait_ready()
    sandbox.set_faults(latency_ms=100)
    stream = Stream(setup, chunks=20, size=100, pause_s=0.1)
    stream.start()
    wait_until(lambda: len(sandbox.event_ids()) >= 500, 60, "the first deliveries")

    first.kill()
    setup.start_relay().wait_ready()
    produced = stream.finish()
    summary = outcomes_of(setup).wait_all(produced, timeout_s=90)

    assert (summary.produced, summary.delivered, summary.lost) == (2000, 2000, 0)
    assert sandbox.event_ids() == {p.event_id for p in produced}


def test_a_consumer_joining_and_leaving_mid_stream_loses_nothing(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """A second relay joins the group mid-stream (cooperative rebalance: it takes over some partitions), then
    leaves with SIGTERM (its partitions go back); every event is delivered."""
    setup = relay_setup(partitions=6)
    first = setup.start_relay().wait_ready()
    sandbox.set_faults(latency_ms=50)
    stream = Stream(setup, chunks=30, size=100, pause_s=0.1)
    stream.start()
    wait_until(lambda: len(sandbox.event_ids()) >= 300, 60, "the first deliveries")

    second = setup.start_relay().wait_ready()
    wait_until(lambda: len(sandbox.event_ids()) >= 1500, 60, "deliveries while both consume")
    assert second.terminate() == 0
    produced = stream.finish()
    summary = outcomes_of(setup).wait_all(produced, timeout_s=90)

    assert (summary.produced, summary.delivered, summary.lost) == (3000, 3000, 0)
    assert "kafka_partitions_revoked" in first.log_path.read_text()
    assert "kafka_partitions_assigned" in second.log_path.read_text()


def test_a_long_tiktok_outage_pauses_consumption_and_dead_letters_nothing(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """While TikTok answers 503, the relay retries, reaches its unsettled bound and pauses its partitions instead
    of dead-lettering; when the outage ends everything is delivered."""
    setup = relay_setup(kafka={"max_unsettled": 100, "consume_batch": 50})
    relay = setup.start_relay().wait_ready()
    sandbox.set_faults(outages=[{"start_s": 0, "duration_s": 8, "http_status": 503}])
    stream = Stream(setup, chunks=10, size=100, pause_s=0)
    stream.start()
    outcomes = outcomes_of(setup)

    wait_until(lambda: gauge(relay, "tiktok_relay_paused_partitions") > 0, 30, "partitions to pause")
    assert gauge(relay, "tiktok_relay_unsettled_messages") <= 100 + 50
    assert outcomes.summary(stream.finish()).dead_lettered == 0
    summary = outcomes.wait_all(stream.produced, timeout_s=90)

    assert (summary.delivered, summary.dead_lettered, summary.lost) == (1000, 0, 0)
    wait_until(lambda: gauge(relay, "tiktok_relay_paused_partitions") == 0, 10, "partitions to resume")
