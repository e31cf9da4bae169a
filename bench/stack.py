"""The processes a benchmark or fault run drives: the real broker, the registry double, the TikTok sandbox and the
service itself, each started the way a user starts it (``tiktok-relay sandbox``, ``tiktok-relay run``), plus the
Kafka reads that find out what ended where (dead-letter and audit topics, committed offsets).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from bench.harness import ProcMonitor
from bench.workload import QUIET
from consumer.kafka.bounded import BoundedReader
from consumer.kafka.client import local_config, reader_config
from tests.registry_double import RegistryDouble
from tools.kafka_broker import REPO, KafkaBroker, free_port

EXAMPLE_CONFIG = REPO / "config" / "relay.example.yaml"
ACCESS_TOKEN = "bench-token"  # noqa: S105 - the sandbox's test token, not a secret
RELAY = Path(sys.executable).parent / "tiktok-relay"
READY_TIMEOUT_S = 60.0
ConfigEdit = Callable[[dict[str, Any]], dict[str, Any]]
"""A change to a whole service config (plain data), applied after the section overrides."""


def _http_json(method: str, url: str, payload: Any = None, timeout_s: float = 30.0) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback http
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - the URL is built here
        return json.loads(response.read())


@dataclass
class SandboxProcess:
    """``tiktok-relay sandbox`` in its own process, and its ``/_sandbox/...`` inspection API."""

    process: subprocess.Popen[str]
    track_url: str
    log: TextIO

    @classmethod
    def start(cls, log_path: Path, *flags: str) -> SandboxProcess:
        log = log_path.open("w")
        process = subprocess.Popen(
            [str(RELAY), "sandbox", "--port", "0", "--log-format", "json", *flags],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        assert process.stdout is not None
        track_url = process.stdout.readline().strip()
        if not track_url.startswith("http"):
            process.kill()
            raise RuntimeError(f"the sandbox did not start; see {log_path}")
        return cls(process, track_url, log)

    @property
    def base_url(self) -> str:
        return self.track_url.split("/open_api/", 1)[0]

    def get(self, path: str) -> Any:
        """GET one of the sandbox's own endpoints, e.g. ``/_sandbox/counts``."""
        return _http_json("GET", self.base_url + path)

    def counts(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/_sandbox/counts")
        return result

    def accepted(self) -> int:
        return int(self.counts()["accepted"])

    def event_ids(self) -> set[str]:
        """Every event_id the sandbox accepted, over all event sources."""
        sources = {row["event_source_id"] for row in self.counts()["by_event"]}
        ids: set[str] = set()
        for source in sources:
            ids.update(self.get(f"/_sandbox/event_ids?event_source_id={urllib.parse.quote(source)}")["event_ids"])
        return ids

    def received_at(self, limit: int) -> dict[str, float]:
        """event_id -> wall-clock receipt time of the ``limit`` most recently recorded events (first receipt)."""
        events = _http_json("GET", f"{self.base_url}/_sandbox/events?limit={limit}", timeout_s=120)["events"]
        out: dict[str, float] = {}
        for entry in events:
            out.setdefault(entry["event"]["event_id"], entry["received_at"])
        return out

    def set_faults(self, **faults: Any) -> None:
        _http_json("PUT", f"{self.base_url}/_sandbox/faults", faults)

    def reset(self) -> None:
        _http_json("POST", f"{self.base_url}/_sandbox/reset", {})

    def stop(self) -> None:
        _stop_process(self.process)
        self.log.close()


@dataclass
class ServiceProcess:
    """``tiktok-relay run --config FILE`` in its own process, sampled from ``/proc`` while it runs."""

    config_path: Path
    http_port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    monitor: ProcMonitor | None = None
    started_at: float = 0.0

    def start(self) -> ServiceProcess:
        env = {**os.environ, "TIKTOK_ACCESS_TOKEN": ACCESS_TOKEN}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(RELAY), "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        self.monitor = ProcMonitor(self.process.pid).start()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"the service exited; see {self.log_path}")
            if self.ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"the service was not ready after {timeout_s:.0f}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no drain, no commit, as a node failure or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._stop_monitor()

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (drain, commit, leave the group) and wait; SIGKILL if it does not exit in time."""
        assert self.process is not None
        code = _stop_process(self.process, timeout_s)
        self._stop_monitor()
        return code

    def _stop_monitor(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()


def _stop_process(process: subprocess.Popen[Any], timeout_s: float = 30.0) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def service_config(
    bootstrap_servers: str,
    registry_url: str,
    track_url: str,
    *,
    group_id: str,
    http_port: int,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    edit: ConfigEdit | None = None,
) -> dict[str, Any]:
    """The example config (``config/relay.example.yaml``: its routes and mappings as shipped) pointed at this run's
    broker, registry and sandbox; ``overrides`` replace keys within a section (``{"kafka": {"max_unsettled": 5}}``);
    ``edit`` then changes what overrides cannot (e.g. ``consumer.demo.run.with_consent_table``)."""
    config: dict[str, Any] = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["kafka"] = {**config["kafka"], "bootstrap_servers": bootstrap_servers, "group_id": group_id}
    config["schemas"] = {"registry": {"url": registry_url}}
    config["tiktok"] = {**(config.get("tiktok") or {}), "endpoint": track_url, "allow_custom_endpoint": True}
    config["observability"] = {
        "log_format": "json",
        "log_level": "info",
        "http_host": "127.0.0.1",
        "http_port": http_port,
    }
    for section, values in (overrides or {}).items():
        config[section] = {**(config.get(section) or {}), **values}
    return config if edit is None else edit(config)


@dataclass
class Workspace:
    """A run's scratch directory: config files and process logs."""

    root: Path
    services: list[ServiceProcess] = field(default_factory=list)

    def service(
        self,
        bootstrap_servers: str,
        registry_url: str,
        track_url: str,
        group_id: str,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        edit: ConfigEdit | None = None,
    ) -> ServiceProcess:
        """A new (not yet started) service process with its own config file, health port and log."""
        port = free_port()
        name = f"service-{len(self.services) + 1}"
        config = service_config(
            bootstrap_servers,
            registry_url,
            track_url,
            group_id=group_id,
            http_port=port,
            overrides=overrides,
            edit=edit,
        )
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        service = ServiceProcess(path, port, self.root / f"{name}.log")
        self.services.append(service)
        return service

    def stop_all(self) -> None:
        for service in self.services:
            if service.running:
                service.stop()


def read_topic(bootstrap_servers: str, topic: str, timeout_s: float = 30.0) -> list[tuple[bytes | None, bytes | None]]:
    """Every record (key, value) of ``topic`` now, read from the start up to the current end offsets (``timeout_s``
    without a record while some are missing raises ``ReadStalledError``)."""
    group = f"bench-reader-{uuid.uuid4().hex[:8]}"
    with BoundedReader(reader_config({**local_config(bootstrap_servers), "log_level": QUIET}, group)) as reader:
        partitions = reader.existing().get(topic)
        if partitions is None:
            return []
        ranges = reader.to_end(topic, partitions)
        return [(m.key(), m.value()) for batch in reader.read(ranges, idle_limit_s=timeout_s) for m in batch]


def unsettled(bootstrap_servers: str, group_id: str, topics: Sequence[str]) -> int:
    """Messages of ``topics`` past the group's committed offsets (the consumer lag): 0 once all are settled."""
    with BoundedReader(reader_config({**local_config(bootstrap_servers), "log_level": QUIET}, group_id)) as reader:
        lag = 0
        for topic in topics:
            partitions = reader.partitions(topic)
            committed = reader.committed(topic, partitions)
            lag += sum(reader.watermarks(topic, p)[1] - committed.get(p, 0) for p in partitions)
        return lag


def wait_settled(
    bootstrap_servers: str, group_id: str, topics: Sequence[str], timeout_s: float, poll_s: float = 1.0
) -> int:
    """Wait until the group has committed every message of ``topics``; return what is still unsettled."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = unsettled(bootstrap_servers, group_id, topics)
        if remaining == 0 or time.monotonic() >= deadline:
            return remaining
        time.sleep(poll_s)


@contextmanager
def sandbox_process(root: Path, *flags: str) -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess.start(root / "sandbox.log", *flags)
    try:
        yield sandbox
    finally:
        with suppress(OSError):
            sandbox.stop()


@dataclass
class Rig:
    """Everything beside the service: broker, schema registry, sandbox, and a scratch directory for the services."""

    broker: KafkaBroker
    registry: RegistryDouble
    sandbox: SandboxProcess
    workspace: Workspace

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    def register(self, subject: str, schema: str) -> int:
        return self.registry.register(subject, schema).schema_id

    def service(
        self, group_id: str, overrides: Mapping[str, Mapping[str, Any]] | None = None, *, edit: ConfigEdit | None = None
    ) -> ServiceProcess:
        return self.workspace.service(
            self.bootstrap_servers, self.registry.url, self.sandbox.track_url, group_id, overrides, edit=edit
        )


@contextmanager
def rig(root: Path, *sandbox_flags: str) -> Iterator[Rig]:
    """Start the broker, the registry double and the sandbox (with ``sandbox_flags``); stop all of them, and every
    service started through the rig, on the way out."""
    root.mkdir(parents=True, exist_ok=True)
    broker = KafkaBroker.fresh()
    with broker, RegistryDouble().running() as registry, sandbox_process(root, *sandbox_flags) as sandbox:
        workspace = Workspace(root)
        try:
            yield Rig(broker, registry, sandbox, workspace)
        finally:
            workspace.stop_all()
