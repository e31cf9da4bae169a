"""The Helm chart: it lints, renders valid Kubernetes objects for every values set, and says what the service needs.

Built-in kinds are validated strictly against the Kubernetes 1.30 schemas by kubernetes-validate; the CRD kinds
(KEDA, Prometheus Operator) are unknown to it, so their essential fields are checked here. helm comes from
``RELAY_HELM`` (the Makefile exports it) or ``.cache/bin/helm``; without it these tests fail, they never skip.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.config import RelayConfig, load_config
from consumer.sending.tokens import TOKEN_ENV, env_suffix
from tests.unit.test_coverage_dashboard import METRIC_NAME, exported_names

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "tiktok-events-relay"
RELEASE = "relay"
NAMESPACE = "relay"
KUBE_VERSION = "1.30"
FULLNAME = f"{RELEASE}-tiktok-events-relay"

EXAMPLE_VALUES = CHART / "examples" / "reference-values.yaml"
VALUES_SETS: dict[str, Path | None] = {
    # The chart's defaults plus the example routes: the defaults alone refuse to install (no routes).
    "defaults": EXAMPLE_VALUES,
    "existing-secret": CHART / "ci" / "existing-secret-values.yaml",
    "autoscaling": CHART / "ci" / "autoscaling-values.yaml",
    "everything": CHART / "ci" / "everything-values.yaml",
}
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

Manifest = dict[str, Any]


def helm_binary() -> Path:
    """helm as the Makefile installs it; a missing binary is a failed set-up, not a reason to skip."""
    configured = os.environ.get("RELAY_HELM")
    path = Path(configured) if configured else REPO / ".cache" / "bin" / "helm"
    if not path.is_file():
        pytest.fail(f"helm not found at {path}: run `make setup`, which installs it at .cache/bin/helm")
    return path


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, check=False, timeout=120)


def template_args(values_set: str, overrides: tuple[str, ...]) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", f"{KUBE_VERSION}.0"]
    values_file = VALUES_SETS[values_set]
    if values_file is not None:
        args += ["--values", str(values_file)]
    for override in overrides:
        args += ["--set", override]
    return args


@functools.cache
def render(values_set: str = "defaults", *overrides: str) -> tuple[Manifest, ...]:
    """The manifests `helm template` renders for a values set plus `--set` overrides (cached: renders are pure)."""
    result = helm(*template_args(values_set, overrides))
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render_error(values_set: str = "defaults", *overrides: str) -> str:
    """The error of a render that must fail."""
    result = helm(*template_args(values_set, overrides))
    assert result.returncode != 0, "the chart rendered values it should have rejected"
    return result.stderr


def find(manifests: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [doc for doc in manifests if doc["kind"] == kind]


def one(manifests: tuple[Manifest, ...], kind: str) -> Manifest:
    found = find(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def relay_container(manifests: tuple[Manifest, ...]) -> Manifest:
    container: Manifest = one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return container


def config_map(manifests: tuple[Manifest, ...]) -> Manifest:
    """The ConfigMap holding the service's config file (the dashboard ConfigMap, when enabled, is another one)."""
    found = [doc for doc in find(manifests, "ConfigMap") if "relay.yaml" in doc["data"]]
    assert len(found) == 1, f"expected one config ConfigMap, found {len(found)}"
    return found[0]


def config_text(manifests: tuple[Manifest, ...]) -> str:
    text: str = config_map(manifests)["data"]["relay.yaml"]
    return text


def load_rendered_config(
    manifests: tuple[Manifest, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_value: str = "from-secret"
) -> RelayConfig:
    """Load the rendered config file as the pod would: with the container's environment (Secret references read
    as ``secret_value``)."""
    for variable in relay_container(manifests)["env"]:
        monkeypatch.setenv(variable["name"], variable.get("value", secret_value))
    path = tmp_path / "relay.yaml"
    path.write_text(config_text(manifests), encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_chart_lints_cleanly(values_set: str) -> None:
    """`helm lint --strict` passes for every values set."""
    values_file = VALUES_SETS[values_set]
    extra = ["--values", str(values_file)] if values_file else []
    result = helm("lint", "--strict", str(CHART), "--kube-version", f"{KUBE_VERSION}.0", *extra)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_builtin_kinds_pass_strict_kubernetes_validation(values_set: str) -> None:
    """Every built-in object validates strictly against the Kubernetes 1.30 schemas (unknown fields rejected)."""
    builtin = [doc for doc in render(values_set) if (doc["apiVersion"], doc["kind"]) not in CRD_KINDS]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", "-k", KUBE_VERSION, "-"],
        input=yaml.safe_dump_all(builtin),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARN" not in result.stdout, f"a kind without a schema was not validated:\n{result.stdout}"
    assert result.stdout.count(" passed for resource ") == len(builtin), result.stdout


def test_default_deployment_is_secure_by_default() -> None:
    """Default pods run non-root on a read-only root file system, without capabilities, seccomp RuntimeDefault."""
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}


def test_tmp_is_a_writable_empty_dir() -> None:
    """With the root file system read-only, /tmp is an emptyDir."""
    manifests = render()
    volumes = {volume["name"]: volume for volume in one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in relay_container(manifests)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize("values_set", ["defaults", "everything"])
def test_probes_use_the_health_endpoints_on_the_http_port(values_set: str) -> None:
    """Liveness and startup probe /livez, readiness probes /readyz, on the port of observability.http_port."""
    manifests = render(values_set)
    container = relay_container(manifests)
    http_port = yaml.safe_load(config_text(manifests))["observability"]["http_port"]
    assert container["ports"] == [{"name": "http", "containerPort": http_port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_config_file_is_mounted_where_relay_config_points() -> None:
    """The ConfigMap's relay.yaml is mounted at /etc/tiktok-relay/relay.yaml and RELAY_CONFIG names it."""
    container = relay_container(render())
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    mount = next(mount for mount in container["volumeMounts"] if mount["name"] == "config")
    assert env["RELAY_CONFIG"] == "/etc/tiktok-relay/relay.yaml"
    assert (mount["mountPath"], mount["subPath"], mount["readOnly"]) == (env["RELAY_CONFIG"], "relay.yaml", True)


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_rendered_config_file_is_a_valid_service_config(
    values_set: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service loads the rendered relay.yaml (with the pod's environment) without a configuration error."""
    config = load_rendered_config(render(values_set), tmp_path, monkeypatch)
    assert config.routes


def test_config_values_block_covers_every_service_config_section() -> None:
    """values.schema.json's `config` accepts exactly the sections of the service's config object."""
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    sections = set(schema["properties"]["config"]["properties"])
    assert sections == set(RelayConfig.model_fields) - {"config_dir"}


def test_config_change_rolls_the_pods() -> None:
    """A different config file changes the pod template's checksum annotation, so the Deployment rolls."""
    before = one(render(), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    after = one(render("defaults", "config.observability.log_level=debug"), "Deployment")["spec"]["template"]
    assert after["metadata"]["annotations"]["checksum/config"] != before["checksum/config"]


def test_grace_period_must_exceed_the_drain_deadline() -> None:
    """terminationGracePeriodSeconds not above kafka.drain_deadline_s is refused at install time."""
    error = render_error("defaults", "terminationGracePeriodSeconds=20")
    assert "terminationGracePeriodSeconds (20) must exceed config.kafka.drain_deadline_s (20)" in error


def test_default_grace_period_exceeds_the_default_drain_deadline() -> None:
    """Out of the box the pod gets more time than the service's drain deadline."""
    manifests = render()
    grace = one(manifests, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > yaml.safe_load(config_text(manifests))["kafka"]["drain_deadline_s"]


def test_access_tokens_secret_keys_are_the_service_variable_names() -> None:
    """The chart's Secret names each token as the service reads it: TIKTOK_ACCESS_TOKEN[_<ID>], loaded by envFrom."""
    manifests = render("defaults", "accessTokens.default=t0", "accessTokens.perEventSource.c4a-b1=t1")
    secret = one(manifests, "Secret")
    assert set(secret["data"]) == {TOKEN_ENV, f"{TOKEN_ENV}_{env_suffix('c4a-b1')}"}
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in relay_container(manifests)["envFrom"]


def test_existing_secret_replaces_the_chart_secret() -> None:
    """With accessTokens.existingSecret the chart creates no Secret and the pods load the user's."""
    manifests = render("existing-secret")
    assert find(manifests, "Secret") == []
    assert relay_container(manifests)["envFrom"] == [{"secretRef": {"name": "tiktok-relay-tokens"}}]


def test_access_token_change_rolls_the_pods() -> None:
    """A new token in the chart's Secret changes the pod template, so pods restart with it."""
    before = one(render("defaults", "accessTokens.default=old"), "Deployment")["spec"]["template"]["metadata"]
    after = one(render("defaults", "accessTokens.default=new"), "Deployment")["spec"]["template"]["metadata"]
    assert after["annotations"]["checksum/access-tokens"] != before["annotations"]["checksum/access-tokens"]


def test_kafka_security_reaches_the_client_and_the_password_stays_in_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kafka.security becomes librdkafka settings in kafka.client; the SASL password arrives only through the
    environment, from the Secret, as kafka.client['sasl.password']."""
    manifests = render("everything")
    env = {variable["name"]: variable for variable in relay_container(manifests)["env"]}
    password_ref = env["RELAY_KAFKA__CLIENT__sasl.password"]["valueFrom"]["secretKeyRef"]
    config = load_rendered_config(manifests, tmp_path, monkeypatch, secret_value="s3cret")
    assert password_ref == {"name": "kafka-relay-user", "key": "pass"}
    assert config.kafka.client["sasl.password"] == "s3cret"
    assert config.kafka.client["security.protocol"] == "SASL_SSL"
    assert config.kafka.client["sasl.mechanism"] == "SCRAM-SHA-256"
    assert config.kafka.client["ssl.ca.location"] == "/etc/tiktok-relay/kafka-tls/ca.crt"
    assert config.kafka.client["client.rack"] == "eu-west-1a"
    assert "sasl.password" not in config_text(manifests)


def test_schema_registry_credentials_come_from_the_secret_by_the_names_the_config_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With schemaRegistry.auth the config names two variables and the pods get them from the user's Secret."""
    manifests = render("everything")
    env = {variable["name"]: variable for variable in relay_container(manifests)["env"]}
    registry = load_rendered_config(manifests, tmp_path, monkeypatch).schemas.registry
    assert registry is not None
    assert registry.username_env is not None and registry.password_env is not None
    assert env[registry.username_env]["valueFrom"]["secretKeyRef"] == {
        "name": "schema-registry-relay-user",
        "key": "username",
    }
    assert env[registry.password_env]["valueFrom"]["secretKeyRef"] == {
        "name": "schema-registry-relay-user",
        "key": "password",
    }


def test_sasl_without_credentials_is_rejected() -> None:
    """A SASL protocol with neither an existing Secret nor a user name and password fails at install time."""
    error = render_error("defaults", "kafka.security.protocol=SASL_SSL")
    assert "kafka.security.sasl.existingSecret" in error


def test_autoscaling_leaves_the_replica_count_to_the_hpa() -> None:
    """With autoscaling on, an HPA targets the Deployment and the Deployment sets no replica count."""
    manifests = render("autoscaling")
    hpa = one(manifests, "HorizontalPodAutoscaler")["spec"]
    deployment = one(manifests, "Deployment")
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 12)
    assert "replicas" not in deployment["spec"]


def test_hpa_and_keda_together_are_rejected() -> None:
    """Two autoscalers on one Deployment would fight: the chart refuses both."""
    error = render_error("defaults", "autoscaling.enabled=true", "keda.enabled=true")
    assert "mutually exclusive" in error


def test_keda_scales_the_deployment_on_the_consumer_group_lag() -> None:
    """The ScaledObject targets the Deployment with a kafka trigger on the relay's own group and brokers."""
    manifests = render("everything")
    scaled = one(manifests, "ScaledObject")
    config = yaml.safe_load(config_text(manifests))
    trigger = scaled["spec"]["triggers"][0]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": FULLNAME}
    assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["bootstrapServers"] == config["kafka"]["bootstrap_servers"]
    assert trigger["metadata"]["consumerGroup"] == config["kafka"]["group_id"]
    assert all(isinstance(value, str) for value in trigger["metadata"].values()), "KEDA metadata is string-valued"
    assert "replicas" not in one(manifests, "Deployment")["spec"]


def test_keda_authenticates_with_the_relays_kafka_credentials() -> None:
    """KEDA's TriggerAuthentication reads the same SASL and TLS Secrets as the relay."""
    manifests = render("everything")
    trigger = one(manifests, "ScaledObject")["spec"]["triggers"][0]
    auth = one(manifests, "TriggerAuthentication")
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
    assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha256", "enable")
    assert refs == {
        "username": ("kafka-relay-user", "user"),
        "password": ("kafka-relay-user", "pass"),
        "ca": ("kafka-cluster-ca", "ca.crt"),
        "cert": ("kafka-cluster-ca", "tls.crt"),
        "key": ("kafka-cluster-ca", "tls.key"),
    }


def test_service_monitor_scrapes_the_metrics_endpoint() -> None:
    """The ServiceMonitor selects the relay's Service and scrapes /metrics on its http port."""
    manifests = render("everything")
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0]["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_grafana_dashboard_ships_the_dashboard_json_for_the_sidecar() -> None:
    """With grafanaDashboard on, a ConfigMap labelled for the Grafana sidecar carries the dashboard file verbatim."""
    dashboards = [doc for doc in find(render("everything"), "ConfigMap") if "tiktok-events-relay.json" in doc["data"]]
    assert len(dashboards) == 1
    assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(dashboards[0]["data"]["tiktok-events-relay.json"])
    original = json.loads((CHART / "dashboards" / "tiktok-events-relay.json").read_text())
    assert {k: v for k, v in shipped.items() if k not in {"uid", "title"}} == {
        k: v for k, v in original.items() if k not in {"uid", "title"}
    }


def test_grafana_dashboard_is_off_by_default() -> None:
    assert [doc for doc in find(render(), "ConfigMap") if "tiktok-events-relay.json" in doc["data"]] == []


def test_network_policy_allows_egress_to_dns_kafka_registry_and_tiktok_only() -> None:
    """Egress is limited to DNS, the broker ports, the schema registry, HTTPS (TikTok) and the extra rule given."""
    policy = one(render("everything"), "NetworkPolicy")["spec"]
    egress_ports = {(port["port"], port["protocol"]) for rule in policy["egress"] for port in rule["ports"]}
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (9093, "TCP"), (8081, "TCP"), (443, "TCP"), (3128, "TCP")}
    assert policy["ingress"][0]["ports"] == [{"port": 9090, "protocol": "TCP"}]


def test_replay_job_runs_dlq_replay_with_the_values_filters() -> None:
    """replay values become the arguments of `tiktok-relay dlq replay`, in the relay's image and config."""
    manifests = render("everything")
    job = one(manifests, "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == [
        "dlq",
        "replay",
        "--topic",
        "orders.paid.dlq",
        "--to",
        "tiktok",
        "--rate",
        "25",
        "--reason",
        "tiktok_rejected",
        "--route",
        "orders-paid",
        "--code",
        "40002",
        "--since",
        "2025-06-01T00:00:00Z",
        "--until",
        "2025-06-02T00:00:00Z",
        "--operator",
        f"helm/{RELEASE}",
    ]
    assert container["image"] == relay_container(manifests)["image"]
    assert container["env"] == relay_container(manifests)["env"]


def test_replay_operator_is_recorded_in_the_audit_arguments() -> None:
    """replay.operator names who ran the replay; the replay audit record takes it from --operator."""
    args = one(render("everything", "replay.operator=alice"), "Job")["spec"]["template"]["spec"]["containers"][0]
    assert args["args"][-2:] == ["--operator", "alice"]


def test_replay_is_a_dry_run_unless_turned_off() -> None:
    """A replay enabled with only a topic reports what it would do: --dry-run, back to the source topic."""
    job = one(render("defaults", "replay.enabled=true", "replay.topic=orders.dlq"), "Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:9] == ["dlq", "replay", "--topic", "orders.dlq", "--to", "source", "--rate", "50", "--dry-run"]


def test_replay_again_passes_the_flag() -> None:
    """replay.again replays on purpose what an earlier replay took back: the Job runs `dlq replay --again`."""
    job = one(render("defaults", "replay.enabled=true", "replay.topic=orders.dlq", "replay.again=true"), "Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--again" in args
    default = one(render("defaults", "replay.enabled=true", "replay.topic=orders.dlq"), "Job")
    assert "--again" not in default["spec"]["template"]["spec"]["containers"][0]["args"]


def test_replay_job_name_follows_its_arguments() -> None:
    """Jobs are immutable: new arguments or a new runId give a new Job name; the same values keep it."""

    def name(*overrides: str) -> str:
        job = one(render("defaults", "replay.enabled=true", "replay.topic=orders.dlq", *overrides), "Job")
        job_name: str = job["metadata"]["name"]
        return job_name

    assert name() == name("replay.rate=50")
    assert len({name(), name("replay.rate=10"), name("replay.runId=2")}) == 3


def test_replay_without_topic_is_rejected() -> None:
    """Enabling the replay Job without the dead-letter topic fails at install time."""
    assert "replay.topic" in render_error("defaults", "replay.enabled=true")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("replicaCount=two", "replicaCount"),
        ("kafka.security.protocol=SASL", "kafka.security.protocol"),
        ("replay.to=elsewhere", "replay.to"),
        ("config.observability.log_format=xml", "config.observability.log_format"),
        ("replicaCont=2", "replicaCont"),
    ],
)
def test_schema_rejects_a_wrong_value(override: str, key: str) -> None:
    """values.schema.json refuses a wrong type, an unknown enum value or a misspelt key, naming it."""
    error = render_error("defaults", override)
    assert "don't meet the specifications of the schema" in error
    assert key in error


def test_helm_test_runs_check_with_the_relays_config_and_secrets() -> None:
    """`helm test` runs `tiktok-relay check` in a test-hook Pod with the relay's image, environment and volumes."""
    manifests = render("everything", "tests.check.skip={tiktok}")
    pods = [doc for doc in find(manifests, "Pod") if doc["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    assert len(pods) == 1
    container = pods[0]["spec"]["containers"][0]
    assert container["args"] == ["check", "--skip", "tiktok"]
    assert container["image"] == relay_container(manifests)["image"]
    assert container["env"] == relay_container(manifests)["env"]
    assert container["volumeMounts"] == relay_container(manifests)["volumeMounts"]
    assert pods[0]["spec"]["restartPolicy"] == "Never"


OIDC = (
    "kafka.security.protocol=SASL_SSL",
    "kafka.security.sasl.mechanism=OAUTHBEARER",
    "kafka.security.sasl.existingSecret=idp-client",
    "kafka.security.sasl.oauthbearer.tokenEndpointUrl=https://idp.example.com/oauth2/token",
    "kafka.security.sasl.oauthbearer.scope=kafka",
    "kafka.security.sasl.oauthbearer.extensions=logicalCluster=lkc-1",
)
MSK = (
    "kafka.security.protocol=SASL_SSL",
    "kafka.security.sasl.mechanism=AWS_MSK_IAM",
    "kafka.security.sasl.awsMskIam.region=eu-west-1",
)


def test_oauthbearer_uses_librdkafkas_oidc_method_with_the_client_secret_from_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OAUTHBEARER renders librdkafka's OIDC settings; the Secret's user name and password arrive through the
    environment as the OAuth client id and secret, never in the ConfigMap."""
    manifests = render("defaults", *OIDC)
    env = {variable["name"]: variable for variable in relay_container(manifests)["env"]}
    client = load_rendered_config(manifests, tmp_path, monkeypatch, secret_value="from-secret").kafka.client
    assert client["sasl.mechanism"] == "OAUTHBEARER"
    assert client["sasl.oauthbearer.method"] == "oidc"
    assert client["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example.com/oauth2/token"
    assert (client["sasl.oauthbearer.scope"], client["sasl.oauthbearer.extensions"]) == (
        "kafka",
        "logicalCluster=lkc-1",
    )
    assert client["sasl.oauthbearer.client.secret"] == "from-secret"
    assert (
        env["RELAY_KAFKA__CLIENT__sasl.oauthbearer.client.secret"]["valueFrom"]["secretKeyRef"]["name"] == "idp-client"
    )
    assert "client.secret" not in config_text(manifests)


def test_oauthbearer_without_a_token_endpoint_is_rejected() -> None:
    assert "tokenEndpointUrl" in render_error("defaults", *OIDC[:3])


def test_msk_iam_signs_with_the_pods_role_and_needs_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_MSK_IAM sets config.kafka.aws_msk_iam (the relay's token callback); no credentials Secret or variables;
    KEDA authenticates with its own AWS identity."""
    manifests = render(
        "defaults", *MSK, "kafka.security.sasl.awsMskIam.roleArn=arn:aws:iam::1:role/relay", "keda.enabled=true"
    )
    config = load_rendered_config(manifests, tmp_path, monkeypatch)
    assert config.kafka.aws_msk_iam is not None
    assert (config.kafka.aws_msk_iam.region, config.kafka.aws_msk_iam.role_arn) == (
        "eu-west-1",
        "arn:aws:iam::1:role/relay",
    )
    assert config.kafka.client["security.protocol"] == "SASL_SSL"
    assert "sasl.mechanism" not in config.kafka.client
    assert not [v for v in relay_container(manifests)["env"] if v["name"].startswith("RELAY_KAFKA__CLIENT__")]
    assert [doc for doc in find(manifests, "Secret") if "kafka-sasl" in doc["metadata"]["name"]] == []
    assert one(manifests, "TriggerAuthentication")["spec"]["podIdentity"] == {"provider": "aws"}
    assert one(manifests, "ScaledObject")["spec"]["triggers"][0]["metadata"]["sasl"] == "aws_msk_iam"


def test_msk_iam_without_a_region_is_rejected() -> None:
    assert "awsMskIam.region" in render_error("defaults", *MSK[:2])


def test_ca_and_client_certificate_come_from_separate_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strimzi keeps the cluster CA and the KafkaUser's certificate in two Secrets: each is mounted on its own and
    librdkafka reads each file where it is mounted."""
    manifests = render(
        "defaults",
        "kafka.security.protocol=SSL",
        "kafka.security.tls.existingSecret=cluster-ca-cert",
        "kafka.security.tls.clientAuth=true",
        "kafka.security.tls.clientCertSecret=relay-user",
        "kafka.security.tls.certKey=user.crt",
        "kafka.security.tls.keyKey=user.key",
    )
    volumes = {
        v["name"]: v["secret"]
        for v in one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    }
    assert volumes["kafka-tls"]["secretName"] == "cluster-ca-cert"
    assert [item["key"] for item in volumes["kafka-tls"]["items"]] == ["ca.crt"]
    assert volumes["kafka-client-tls"]["secretName"] == "relay-user"
    assert [item["key"] for item in volumes["kafka-client-tls"]["items"]] == ["user.crt", "user.key"]
    client = load_rendered_config(manifests, tmp_path, monkeypatch).kafka.client
    assert client["ssl.ca.location"] == "/etc/tiktok-relay/kafka-tls/ca.crt"
    assert client["ssl.certificate.location"] == "/etc/tiktok-relay/kafka-client-tls/user.crt"
    assert client["ssl.key.location"] == "/etc/tiktok-relay/kafka-client-tls/user.key"


def test_install_without_routes_fails_naming_the_fix() -> None:
    """The chart's defaults have no routes: an install fails with a message that says what to add and where the
    examples are, instead of joining a group, creating topics or sending anything."""
    result = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", f"{KUBE_VERSION}.0")
    assert result.returncode != 0
    assert "config.routes is empty" in result.stderr
    assert "examples/reference-values.yaml" in result.stderr


def test_example_values_carry_the_example_configs_routes() -> None:
    """examples/reference-values.yaml routes the reference schemas as config/relay.example.yaml does."""
    example_config = yaml.safe_load((REPO / "config" / "relay.example.yaml").read_text(encoding="utf-8"))
    example_values = yaml.safe_load(EXAMPLE_VALUES.read_text(encoding="utf-8"))["config"]
    assert [r["name"] for r in example_values["routes"]] == [r["name"] for r in example_config["routes"]]


# -- alerts ----------------------------------------------------------------------------------------------------------

RULE_KEYS = {"alert", "expr", "for", "labels", "annotations"}


def prometheus_rule(*overrides: str) -> Manifest:
    return one(render("defaults", "metrics.prometheusRule.enabled=true", *overrides), "PrometheusRule")


def test_prometheus_rule_is_off_by_default() -> None:
    assert find(render(), "PrometheusRule") == []


def test_prometheus_rule_has_the_shipped_alerts_in_the_operators_shape() -> None:
    """Structural check of the PrometheusRule (kubernetes-validate has no schema for this CRD): apiVersion, kind,
    groups of rules, each rule an alert with expr, severity label and summary/description annotations; the
    alerts are the ones docs/operations.md lists."""
    rule = prometheus_rule()
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert set(rule["spec"]) == {"groups"}
    (group,) = rule["spec"]["groups"]
    assert set(group) == {"name", "rules"}
    for item in group["rules"]:
        assert set(item) <= RULE_KEYS and {"alert", "expr", "labels", "annotations"} <= set(item), item
        assert isinstance(item["expr"], str) and item["expr"].strip()
        assert item["labels"]["severity"] == "warning"
        assert {"summary", "description"} <= set(item["annotations"])
        if "for" in item:
            assert re.fullmatch(r"\d+[smhd]", item["for"]), item["for"]
    assert [item["alert"] for item in group["rules"]] == [
        "TikTokRelayPartitionStuck",
        "TikTokRelayConsumerLagGrowing",
        "TikTokRelayDestinationHeldOnAuth",
        "TikTokRelayDeadLetterRate",
        "TikTokRelayRetryBudgetExhausted",
        "TikTokRelayConsentAuditFailing",
        "TikTokRelayIdentifierCoverageDropping",
    ]
    operations = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert all(item["alert"] in operations for item in group["rules"])


def test_alert_expressions_name_only_exported_metrics_of_this_release() -> None:
    """Every tiktok_relay_* series an alert reads is one the relay exports, selected by the release's namespace
    and job (or the configured selector)."""
    rules = prometheus_rule()["spec"]["groups"][0]["rules"]
    names = {name for item in rules for name in METRIC_NAME.findall(item["expr"])}
    assert names and sorted(names - exported_names()) == []
    for item in rules:
        for selector in re.findall(r"tiktok_relay_[a-z0-9_]+\{([^}]*)\}", item["expr"]):
            assert f'namespace="{NAMESPACE}", job="{FULLNAME}"' in selector, item["alert"]
    custom = prometheus_rule('metrics.prometheusRule.selector=cluster="eu"')["spec"]["groups"][0]["rules"]
    assert all('cluster="eu"' in item["expr"] for item in custom)


def test_alert_thresholds_come_from_values() -> None:
    rules = prometheus_rule("metrics.prometheusRule.rules.stuckPartitionSeconds=120")["spec"]["groups"][0]["rules"]
    assert rules[0]["expr"].endswith("> 120")


# -- dashboard, extension points, metadata ----------------------------------------------------------------------------


def shipped_dashboard(*overrides: str) -> dict[str, Any]:
    manifests = render("everything", *overrides)
    (config_map,) = [doc for doc in find(manifests, "ConfigMap") if "tiktok-events-relay.json" in doc["data"]]
    dashboard: dict[str, Any] = json.loads(config_map["data"]["tiktok-events-relay.json"])
    return dashboard


def test_dashboard_uid_and_title_are_per_release() -> None:
    """Two releases (or namespaces) ship two dashboards that do not overwrite each other in Grafana."""
    dashboard = shipped_dashboard()
    everything = str(VALUES_SETS["everything"])
    other = json.loads(
        one_dashboard_of(helm_output("template", "other", str(CHART), "-n", "elsewhere", "-f", everything))
    )
    assert dashboard["uid"] != other["uid"]
    assert len(dashboard["uid"]) <= 40
    assert f"{NAMESPACE}/{RELEASE}" in dashboard["title"]


def helm_output(*args: str) -> str:
    result = helm(*args, "--kube-version", f"{KUBE_VERSION}.0")
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_dashboard_of(rendered: str) -> str:
    for doc in yaml.safe_load_all(rendered):
        if doc and doc["kind"] == "ConfigMap" and "tiktok-events-relay.json" in doc["data"]:
            text: str = doc["data"]["tiktok-events-relay.json"]
            return text
    raise AssertionError("no dashboard ConfigMap")


def test_dashboard_filters_by_namespace_job_and_pod() -> None:
    """Namespace, job and pod variables, and every tiktok_relay_* query filtered by all three."""
    dashboard = shipped_dashboard()
    variables = [variable["name"] for variable in dashboard["templating"]["list"]]
    assert variables[:4] == ["datasource", "namespace", "job", "pod"]
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            for selector in re.findall(r"tiktok_relay_[a-z0-9_]+(\{[^}]*\})?", target["expr"]):
                assert 'namespace=~"$namespace", job=~"$job", pod=~"$pod"' in selector, target["expr"]


def test_extension_points_render() -> None:
    """extraObjects (templated), initContainers, extraContainers, global.imageRegistry and global.imagePullSecrets."""
    manifests = render("everything")
    assert f"{RELEASE}-extra" in [doc["metadata"]["name"] for doc in find(manifests, "ConfigMap")]
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["wait-for-proxy"]
    assert [c["name"] for c in pod["containers"]] == ["relay", "egress-proxy"]
    assert {"name": "global-pull"} in pod["imagePullSecrets"]
    defaults_pod = one(render("defaults", "global.imageRegistry=mirror.example.com"), "Deployment")
    assert defaults_pod["spec"]["template"]["spec"]["containers"][0]["image"].startswith("mirror.example.com/")


def test_chart_metadata_names_the_license() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["annotations"]["artifacthub.io/license"] == "Apache-2.0"
    assert chart["maintainers"]
