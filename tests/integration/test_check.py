"""`tiktok-relay check` against the real broker (its ACL-enforcing SASL listener for the permission checks), the
registry double and the sandbox: every check passes on a sound deployment, and each kind of check fails on its own
fault, naming it, with a non-zero exit. Also SASL/OAUTHBEARER with librdkafka's built-in OIDC method, end to end:
the settings pass through `kafka.client`, librdkafka fetches a token from a real (local) token endpoint with the
client credentials, and the broker accepts it as the relay's principal, whose ACLs then apply."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from bench.stack import SandboxProcess
from consumer.demo.samples import reference_schema_path
from tests.integration.conftest import TopicFactory
from tests.oidc_server import TokenServer
from tests.registry_double import RegistryDouble
from tools.kafka_broker import SASL_USERS, KafkaBroker, free_port

RELAY = Path(sys.executable).parent / "tiktok-relay"
PIXEL = "C4CHECKPIXEL0001"
GOOD_TOKEN = "good-token"


@pytest.fixture
def tiktok(tmp_path: Path) -> Iterator[SandboxProcess]:
    """The sandbox, knowing one token that may send for PIXEL only."""
    settings = tmp_path / "sandbox.yaml"
    settings.write_text(yaml.safe_dump({"tokens": {GOOD_TOKEN: [PIXEL]}}))
    process = SandboxProcess.start(tmp_path / "sandbox.log", "--config", str(settings))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    with RegistryDouble().running() as double:
        yield double


@dataclass
class Deployment:
    """A config for `check`: its topic, group and where it points; ``run`` runs the real command on it."""

    tmp_path: Path
    topic: str
    group: str
    data: dict[str, Any]
    token: str = GOOD_TOKEN

    def run(self) -> tuple[int, list[str]]:
        path = self.tmp_path / f"relay-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(self.data))
        env = {**os.environ, "TIKTOK_ACCESS_TOKEN": self.token}
        done = subprocess.run(
            [str(RELAY), "check", "--config", str(path), "--timeout", "10"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=180,
        )
        return done.returncode, done.stdout.splitlines()


def line_of(lines: list[str], name: str) -> str:
    found = [line for line in lines if line.split(maxsplit=1)[-1].startswith(f"{name}:")]
    assert len(found) == 1, f"no single line for {name!r} in:\n" + "\n".join(lines)
    return found[0]


@pytest.fixture
def deployment(
    tmp_path: Path, bootstrap_servers: str, new_topic: TopicFactory, registry: RegistryDouble, tiktok: SandboxProcess
) -> Deployment:
    """A sound deployment over PLAINTEXT: topic exists and its subject is registered; the sandbox knows the token."""
    topic = new_topic("check", partitions=2)
    registry.register(f"{topic}-value", reference_schema_path("OrderPaid", 1).read_text())
    group = f"check-{uuid.uuid4().hex[:8]}"
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap_servers, "group_id": group},
        "schemas": {"registry": {"url": registry.url}},
        "routes": [
            {
                "name": "order-paid",
                "topic": topic,
                "event": "Purchase",
                "event_source_id": PIXEL,
                "event_id": {"derive_from": ["order_id"]},
                "event_time": "occurred_at",
                "consent": "consent.marketing",
            }
        ],
        "tiktok": {"endpoint": tiktok.track_url, "allow_custom_endpoint": True},
        "deadletter": {"audit_topic": f"audit-{uuid.uuid4().hex[:8]}"},
    }
    return Deployment(tmp_path, topic, group, data)


def test_a_sound_deployment_passes_every_check(deployment: Deployment, tiktok: SandboxProcess) -> None:
    """Config, brokers, topic, group, dead-letter and audit topics (to be created), registry subject and token all
    pass; exit 0; nothing was sent to TikTok and nothing was created."""
    code, lines = deployment.run()
    assert code == 0, "\n".join(lines)
    names = [line.split(maxsplit=1)[1].split(":")[0] for line in lines[:-1]]
    assert names == [
        "config",
        "brokers",
        f"topic {deployment.topic}",
        f"group {deployment.group}",
        f"dead-letter topic {deployment.topic}.dlq",
        f"audit topic {deployment.data['deadletter']['audit_topic']}",
        f"registry subject {deployment.topic}-value",
        f"tiktok web {PIXEL}",
    ]
    assert all(line.startswith("ok") for line in lines[:-1])
    assert lines[-1] == "check: all 8 checks passed"
    assert "will create it (2 partitions" in line_of(lines, f"dead-letter topic {deployment.topic}.dlq")
    assert tiktok.accepted() == 0


def test_an_invalid_config_fails_first_with_exit_2(deployment: Deployment) -> None:
    """A config error names the key; nothing else is checked."""
    deployment.data["routes"][0]["event_source"] = "tv"
    code, lines = deployment.run()
    assert code == 2
    assert lines[0].startswith("FAIL  config: invalid configuration: routes.0")
    assert lines[-1] == "check: 1 of 1 checks failed: config"


def test_unreachable_brokers_fail_the_broker_check(deployment: Deployment) -> None:
    deployment.data["kafka"]["bootstrap_servers"] = f"127.0.0.1:{free_port()}"
    code, lines = deployment.run()
    assert code == 1
    assert line_of(lines, "brokers").startswith("FAIL")
    assert lines[-1].endswith("failed: brokers")


def test_a_missing_topic_fails_its_check(deployment: Deployment) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    deployment.data["routes"][0]["topic"] = missing
    code, lines = deployment.run()
    assert code == 1
    assert line_of(lines, f"topic {missing}") == f"FAIL  topic {missing}: does not exist"


def test_a_missing_dead_letter_topic_fails_when_the_relay_may_not_create_it(deployment: Deployment) -> None:
    deployment.data["deadletter"]["create_topics"] = False
    code, lines = deployment.run()
    assert code == 1
    line = line_of(lines, f"dead-letter topic {deployment.topic}.dlq")
    assert line.startswith("FAIL") and "create_topics is false" in line


def test_an_unregistered_subject_fails_the_registry_check(deployment: Deployment, registry: RegistryDouble) -> None:
    other = f"unregistered-{uuid.uuid4().hex[:6]}"
    deployment.data["routes"][0]["topic"] = other
    code, lines = deployment.run()
    assert code == 1
    assert line_of(lines, f"registry subject {other}-value").startswith(f"FAIL  registry subject {other}-value: not")


@pytest.mark.parametrize(
    ("token", "pixel", "reason"),
    [("unknown-token", PIXEL, "token_invalid"), (GOOD_TOKEN, "C4OTHERPIXEL0002", "no_permission")],
)
def test_a_rejected_token_fails_the_tiktok_check(deployment: Deployment, token: str, pixel: str, reason: str) -> None:
    """A token TikTok does not know, or one without permission for the pixel, fails that destination's check."""
    deployment.token = token
    deployment.data["routes"][0]["event_source_id"] = pixel
    code, lines = deployment.run()
    assert code == 1
    line = line_of(lines, f"tiktok web {pixel}")
    assert line.startswith("FAIL") and reason in line
    assert token not in "\n".join(lines)


# -- the relay's principal and its ACLs (SASL_PLAINTEXT listener, StandardAuthorizer) ---------------------------


def grant(admin: AdminClient, resource: ResourceType, name: str, *operations: AclOperation) -> None:
    bindings = [
        AclBinding(resource, name, ResourcePatternType.LITERAL, "User:relay", "*", operation, AclPermissionType.ALLOW)
        for operation in operations
    ]
    for future in admin.create_acls(bindings).values():
        future.result(timeout=30)


def as_relay_principal(deployment: Deployment, kafka_broker: KafkaBroker) -> None:
    deployment.data["kafka"]["bootstrap_servers"] = kafka_broker.sasl_bootstrap_servers
    deployment.data["kafka"]["client"] = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "relay",
        "sasl.password": SASL_USERS["relay"],
    }


def test_the_documented_acls_are_enough(deployment: Deployment, kafka_broker: KafkaBroker, admin: AdminClient) -> None:
    """With the ACLs docs/deploy.md lists (READ+DESCRIBE on the topic, READ on the group, CREATE+WRITE+DESCRIBE on
    the topics the relay writes), every Kafka check passes for the relay's own principal."""
    as_relay_principal(deployment, kafka_broker)
    audit = deployment.data["deadletter"]["audit_topic"]
    grant(admin, ResourceType.TOPIC, deployment.topic, AclOperation.READ, AclOperation.DESCRIBE)
    grant(admin, ResourceType.GROUP, deployment.group, AclOperation.READ)
    for written in (f"{deployment.topic}.dlq", audit):
        grant(admin, ResourceType.TOPIC, written, AclOperation.CREATE, AclOperation.WRITE, AclOperation.DESCRIBE)
    code, lines = deployment.run()
    assert code == 0, "\n".join(lines)


def test_missing_acls_fail_the_topic_group_and_dead_letter_checks(
    deployment: Deployment, kafka_broker: KafkaBroker, admin: AdminClient
) -> None:
    """DESCRIBE without READ on the topic, nothing on the group, no CREATE for the dead-letter topic: each fails
    with the ACL to grant."""
    as_relay_principal(deployment, kafka_broker)
    grant(admin, ResourceType.TOPIC, deployment.topic, AclOperation.DESCRIBE)
    code, lines = deployment.run()
    assert code == 1
    assert "grant READ on the topic" in line_of(lines, f"topic {deployment.topic}")
    assert "grant READ on the group" in line_of(lines, f"group {deployment.group}")
    dead_letter = line_of(lines, f"dead-letter topic {deployment.topic}.dlq")
    assert dead_letter.startswith("FAIL") and "CREATE" in dead_letter


# -- SASL/OAUTHBEARER with librdkafka's OIDC method ------------------------------------------------------------


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    with TokenServer(subject="relay").running() as server:
        yield server


def as_oidc_client(
    deployment: Deployment, kafka_broker: KafkaBroker, token_url: str, client_id: str, client_secret: str
) -> None:
    """librdkafka's built-in OIDC method, passed through `kafka.client` as a user would configure it."""
    deployment.data["kafka"]["bootstrap_servers"] = kafka_broker.sasl_bootstrap_servers
    deployment.data["kafka"]["client"] = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.token.endpoint.url": token_url,
        "sasl.oauthbearer.client.id": client_id,
        "sasl.oauthbearer.client.secret": client_secret,
    }


def test_oidc_token_from_the_local_endpoint_authenticates_the_relay(
    deployment: Deployment, kafka_broker: KafkaBroker, admin: AdminClient, token_server: TokenServer
) -> None:
    """`tiktok-relay check` over OAUTHBEARER/OIDC: librdkafka asks the token endpoint (client id and secret, scope),
    the broker accepts the token as User:relay, and the Kafka checks pass with that principal's ACLs."""
    as_oidc_client(deployment, kafka_broker, token_server.token_url, "relay-client", "cl1ent-s3cret")
    deployment.data["kafka"]["client"]["sasl.oauthbearer.scope"] = "kafka"
    grant(admin, ResourceType.TOPIC, deployment.topic, AclOperation.READ, AclOperation.DESCRIBE)
    grant(admin, ResourceType.GROUP, deployment.group, AclOperation.READ)
    for written in (f"{deployment.topic}.dlq", deployment.data["deadletter"]["audit_topic"]):
        grant(admin, ResourceType.TOPIC, written, AclOperation.CREATE, AclOperation.WRITE, AclOperation.DESCRIBE)
    code, lines = deployment.run()
    assert code == 0, "\n".join(lines)
    assert line_of(lines, f"topic {deployment.topic}").startswith("ok")
    assert token_server.requests, "librdkafka never asked the token endpoint"
    request = token_server.requests[0]
    assert (request.client_id, request.client_secret) == ("relay-client", "cl1ent-s3cret")
    assert request.form["grant_type"] == "client_credentials"
    assert request.form["scope"] == "kafka"


def test_a_token_for_a_principal_without_acls_is_refused_by_the_acls(
    deployment: Deployment, kafka_broker: KafkaBroker
) -> None:
    """The principal is the token's subject: a token for another subject gets none of the relay's ACLs."""
    with TokenServer(subject=f"stranger-{uuid.uuid4().hex[:6]}").running() as stranger:
        as_oidc_client(deployment, kafka_broker, stranger.token_url, "other-client", "other-secret")
        code, lines = deployment.run()
    assert code == 1
    assert line_of(lines, f"topic {deployment.topic}").startswith("FAIL")
    assert stranger.requests
