"""Integration tests run against one real Apache Kafka broker per test session, started here and always stopped.

If the broker cannot start, every integration test errors (it never skips)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient

from bench.stack import SandboxProcess
from consumer.deadletter.settings import DeadLetterSettings
from consumer.demo.run import (
    OutcomeReader,
    Produced,
    Summary,
    account,
    app_topics,
    create_topics,
    isolated_config,
    load_example,
    source_topics,
)
from consumer.kafka import topics as kafka_topics
from consumer.kafka.client import local_config
from tools.kafka_broker import KafkaBroker, free_port


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    broker = KafkaBroker.fresh()
    with broker:
        yield broker


@pytest.fixture(scope="session")
def bootstrap_servers(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def admin(bootstrap_servers: str) -> AdminClient:
    return kafka_topics.admin_client(local_config(bootstrap_servers))


TopicFactory = Callable[..., str]


@pytest.fixture
def new_topic(admin: AdminClient) -> TopicFactory:
    """Create a uniquely named topic (explicitly, with the AdminClient) and return its name."""

    def create(prefix: str = "t", partitions: int = 1) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        kafka_topics.create_topics(admin, {name: kafka_topics.TopicSpec(partitions)})
        return name

    return create


@pytest.fixture
def producer(bootstrap_servers: str) -> Iterator[Producer]:
    p = Producer({**local_config(bootstrap_servers), "enable.idempotence": True, "acks": "all"})
    yield p
    p.flush(30)


def consume_all(bootstrap_servers: str, topic: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Read ``topic`` from the beginning until ``expected`` messages arrived or the timeout passed."""
    consumer = Consumer(
        {
            **local_config(bootstrap_servers),
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error() is None:
                    out.append(msg)
    finally:
        consumer.close()
    return out


# -- the TikTok sandbox and the relay service as processes (service tests) ---------------------------------------


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    """`tiktok-relay sandbox` in its own process (it keeps answering while a test blocks)."""
    process = SandboxProcess.start(tmp_path / "sandbox.log")
    try:
        yield process
    finally:
        process.stop()


@dataclass
class RelayProcess:
    """`tiktok-relay run --config FILE` in its own process group; logs (JSON lines) go to ``log_path``."""

    config_path: Path
    http_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> RelayProcess:
        env = {**os.environ, "TIKTOK_ACCESS_TOKEN": "test-token", "RELAY_OBSERVABILITY__HTTP_PORT": str(self.http_port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "consumer", "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        return self

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def status(self, path: str) -> int:
        """The HTTP status of GET ``path`` (0 when the endpoint does not answer)."""
        try:
            with urllib.request.urlopen(self._url(path), timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def metrics(self) -> str:
        with urllib.request.urlopen(self._url("/metrics"), timeout=5) as response:
            return str(response.read().decode())

    def wait_metrics_line(self, line: str, timeout_s: float = 30.0) -> str:
        """The /metrics text once it holds ``line``: settlement is counted just after the sandbox has the event."""
        deadline = time.monotonic() + timeout_s
        while True:
            metrics = self.metrics()
            if line in metrics or time.monotonic() >= deadline:
                return metrics
            time.sleep(0.2)

    def wait_ready(self, timeout_s: float = 60.0) -> RelayProcess:
        """Wait until /readyz answers 200 (partitions assigned, broker reachable, sender ready)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, f"relay exited; log:\n{self.log_tail()}"
            if self.status("/readyz") == 200:
                return self
            time.sleep(0.2)
        raise AssertionError(f"relay not ready after {timeout_s}s; log:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no drain, no commit."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class RelaySetup:
    """Fresh topics, a config file for them (the example config, namespaced) and the relays started on it."""

    namespace: str
    data: dict[str, Any]
    config_path: Path
    bootstrap_servers: str
    relays: list[RelayProcess]

    @property
    def topic(self) -> Callable[[str], str]:
        """The namespaced name of an example-config topic: ``topic("orders.paid")``."""
        return lambda name: f"{self.namespace}.{name}"

    def start_relay(self) -> RelayProcess:
        index = len(self.relays)
        log_path = self.config_path.with_name(f"relay-{index}.log")
        relay = RelayProcess(self.config_path, free_port(), log_path)
        self.relays.append(relay)
        return relay.start()


RelaySetupFactory = Callable[..., RelaySetup]

RELAY_TEST_OVERRIDES: dict[str, Any] = {
    # A killed member is noticed in seconds, not the default 45 s, so rebalance tests stay short.
    "kafka": {"consumer": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}, "drain_deadline_s": 15},
    "tiktok": {"linger_ms": 50, "retry_max_backoff_s": 1.0},
    "observability": {"log_level": "info"},
}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, Mapping) else value
    return out


@pytest.fixture
def relay_setup(tmp_path: Path, bootstrap_servers: str, sandbox: SandboxProcess) -> Iterator[RelaySetupFactory]:
    """``relay_setup(partitions=3, **overrides)``: topics and config for the relay service (the example config
    under a fresh namespace, pointed at the test broker and sandbox); every relay started is killed afterwards."""
    setups: list[RelaySetup] = []

    def make(partitions: int = 3, **overrides: Any) -> RelaySetup:
        namespace = f"svc-{uuid.uuid4().hex[:8]}"
        data = isolated_config(
            load_example(), bootstrap_servers=bootstrap_servers, track_url=sandbox.track_url, namespace=namespace
        )
        data = _merge(_merge(data, RELAY_TEST_OVERRIDES), overrides)
        create_topics(bootstrap_servers, source_topics(data), partitions)
        config_path = tmp_path / f"{namespace}.yaml"
        config_path.write_text(yaml.safe_dump(data))
        setup = RelaySetup(namespace, data, config_path, bootstrap_servers, [])
        setups.append(setup)
        return setup

    yield make
    for setup in setups:
        for relay in setup.relays:
            if relay.process is not None and relay.process.poll() is None:
                relay.kill()


class Outcomes:
    """Where a relay setup's produced events ended: sandbox event_ids, dead-letter and audit topic records."""

    def __init__(self, setup: RelaySetup, sandbox: SandboxProcess) -> None:
        settings = DeadLetterSettings(**setup.data.get("deadletter", {}))
        self._sandbox = sandbox
        self._data = setup.data
        self.reader = OutcomeReader(
            setup.bootstrap_servers,
            [settings.dead_letter_topic(t) for t in source_topics(setup.data)],
            settings.audit_topic,
            settings.header_prefix,
        )

    def summary(self, produced: Sequence[Produced]) -> Summary:
        self.reader.poll()
        dead, audited = self.reader.dead_lettered, self.reader.audited
        return account(produced, self._sandbox.event_ids(), dead, audited, app_topics(self._data))

    def wait_all(self, produced: Sequence[Produced], timeout_s: float = 60.0) -> Summary:
        """Poll until every produced event is found somewhere (or the timeout passed); the last summary."""
        deadline = time.monotonic() + timeout_s
        while (summary := self.summary(produced)).lost and time.monotonic() < deadline:
            time.sleep(0.3)
        return summary

    def close(self) -> None:
        self.reader.close()


@pytest.fixture
def outcomes_of(sandbox: SandboxProcess) -> Iterator[Callable[[RelaySetup], Outcomes]]:
    """``outcomes_of(setup)``: an ``Outcomes`` reader for a setup (create it once the relay created its topics)."""
    readers: list[Outcomes] = []

    def make(setup: RelaySetup) -> Outcomes:
        readers.append(Outcomes(setup, sandbox))
        return readers[-1]

    yield make
    for reader in readers:
        reader.close()
