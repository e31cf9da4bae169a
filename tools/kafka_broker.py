"""A real single-node Apache Kafka broker (KRaft) on 127.0.0.1 for tests, the demo and benchmarks.

The jars come from Maven Central through ``tools/kafka/pom.xml`` (see ``make broker-jars``). Each start uses a
fresh data directory and freshly chosen free ports, so several brokers can run side by side.

    python -m tools.kafka_broker start   # prints the bootstrap address, leaves the broker running
    python -m tools.kafka_broker stop    # stops the broker started above
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parent.parent
JARS = Path(os.environ.get("RELAY_KAFKA_JARS", REPO / ".cache" / "kafka-jars"))
LOG4J = REPO / "tools" / "kafka" / "log4j2.properties"
STATE_FILE = REPO / ".cache" / "broker" / "state.json"
START_TIMEOUT_S = 90.0


class BrokerError(RuntimeError):
    """The broker could not be started or stopped; the message says why and where its log is."""


def free_port() -> int:
    """A free loopback port, chosen before the broker starts: with a fixed port, connect is a readiness check."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, as KRaft's storage tool expects. Like Kafka's own
    ``Uuid.randomUuid``, never one starting with "-": the storage tool would read it as an option (1 run in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


SASL_USERS = {"relay": "relay-secret", "outsider": "outsider-secret"}
"""Users of the SASL_PLAINTEXT listener (PLAIN). They have no ACLs until a test grants some."""


def server_properties(data_dir: Path, port: int, controller_port: int, sasl_port: int) -> str:
    """One combined node. PLAINTEXT (tests, demo, benchmarks) connects as ANONYMOUS, a super user, so ACLs never
    get in its way; the SASL_PLAINTEXT listener (PLAIN users ``SASL_USERS``, and OAUTHBEARER with unsigned JWTs
    validated by Kafka's unsecured validator) is subject to the StandardAuthorizer and its ACLs."""
    listeners = (
        f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},CONTROLLER://127.0.0.1:{controller_port}"
    )
    plain_users = " ".join(f'user_{user}="{password}"' for user, password in SASL_USERS.items())
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": listeners,
        "advertised.listeners": listeners,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "sasl.enabled.mechanisms": "PLAIN,OAUTHBEARER",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
        ),
        "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config": (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _java_command(*args: str, heap: bool = False) -> list[str]:
    if not any(JARS.glob("kafka_2.13-*.jar")):
        raise BrokerError(f"no Kafka jars in {JARS}: run `make broker-jars` first")
    memory = ["-Xms256m", "-Xmx1g"] if heap else []
    return ["java", *memory, f"-Dlog4j2.configurationFile={LOG4J}", "-cp", f"{JARS}/*", *args]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class KafkaBroker:
    """One broker process. Use as a context manager, or ``start()`` / ``stop()``."""

    data_dir: Path
    port: int
    controller_port: int
    sasl_port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def fresh(cls) -> KafkaBroker:
        return cls(Path(tempfile.mkdtemp(prefix="relay-kafka-")), free_port(), free_port(), free_port())

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        """The SASL_PLAINTEXT listener, where ACLs apply."""
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def start(self) -> KafkaBroker:
        """Start the broker, formatting its storage first unless a previous run of this broker already did."""
        props = self.data_dir / "server.properties"
        props.write_text(server_properties(self.data_dir, self.port, self.controller_port, self.sasl_port))
        if not (self.data_dir / "logs" / "meta.properties").exists():
            self._format_storage(props)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                _java_command("kafka.Kafka", str(props), heap=True),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, so stop() reaches the JVM and nothing else
            )
        self._wait_ready()
        return self

    def _format_storage(self, props: Path) -> None:
        fmt = _java_command(
            "kafka.tools.StorageTool", "format", "--standalone", "-t", new_cluster_id(), "-c", str(props)
        )
        formatted = subprocess.run(fmt, capture_output=True, text=True, check=False)
        if formatted.returncode != 0:
            raise BrokerError(f"storage format failed: {formatted.stderr.strip() or formatted.stdout.strip()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(f"broker exited with {self.process.returncode}; see {self.log_file}")
            if _port_open(self.port) and self._metadata_ready():
                return
            time.sleep(0.25)
        self.stop()
        raise BrokerError(f"broker not ready after {START_TIMEOUT_S:.0f}s; see {self.log_file}")

    def _metadata_ready(self) -> bool:
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        try:
            return len(admin.list_topics(timeout=2).brokers) > 0
        except Exception:  # noqa: BLE001 - not ready yet is any failure of the metadata call
            return False

    def stop(self, timeout_s: float = 30.0, keep_data: bool = False) -> None:
        """SIGTERM the broker's process group, SIGKILL it if it does not exit in time, and remove its data unless
        ``keep_data`` (then ``start()`` brings the same broker back, topics, offsets and ports included)."""
        if self.process is not None and self.process.poll() is None:
            _terminate_group(self.process.pid, timeout_s, self.process)
        self.process = None
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def restart(self) -> KafkaBroker:
        """Stop the broker cleanly and start it again on the same ports and data: a broker restart as clients see
        it (connections drop, nothing committed is lost)."""
        self.stop(keep_data=True)
        return self.start()

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _terminate_group(pid: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        else:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _start_detached() -> None:
    if STATE_FILE.exists():
        state = json.loads(STATE_FILE.read_text())
        if _port_open(int(state["port"])):
            print(state["bootstrap"])
            return
    broker = KafkaBroker.fresh().start()
    assert broker.process is not None
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(
        json.dumps(
            {
                "pid": broker.process.pid,
                "port": broker.port,
                "bootstrap": broker.bootstrap_servers,
                "dir": str(broker.data_dir),
            }
        )
    )
    print(broker.bootstrap_servers)


def _stop_detached() -> None:
    if not STATE_FILE.exists():
        print("no broker started by `start` is running")
        return
    state = json.loads(STATE_FILE.read_text())
    _terminate_group(int(state["pid"]), 30.0)
    shutil.rmtree(state["dir"], ignore_errors=True)
    STATE_FILE.unlink()
    print(f"stopped broker at {state['bootstrap']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.kafka_broker", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    args = parser.parse_args(argv)
    try:
        _start_detached() if args.action == "start" else _stop_detached()
    except BrokerError as exc:
        print(f"kafka broker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
