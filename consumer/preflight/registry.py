"""Schema registry checks: the registry answers, with the configured credentials, for each topic's subject.

The subject is ``<topic>-value`` (TopicNameStrategy, the Confluent serializers' default). The relay itself looks
writer schemas up by id, so a producer using another subject strategy decodes fine; the check then names the
subject it did not find, and says which strategy it assumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from consumer.decode.schemas import registry_client_config
from consumer.decode.settings import DecodeSettings
from consumer.errors import ConfigError
from consumer.preflight.result import CheckResult, failed, passed


def registry_topics(settings: DecodeSettings, topics: Sequence[str]) -> list[str]:
    """The topics decoded through the registry (confluent format)."""
    return [topic for topic in topics if topic not in settings.topics or settings.topics[topic].format == "confluent"]


def registry_checks(
    settings: DecodeSettings, topics: Sequence[str], resolve_path: Callable[[Path], Path], environ: Mapping[str, str]
) -> list[CheckResult]:
    """One check per registry-decoded topic; none when no registry is configured."""
    if settings.registry is None:
        return []
    checked = registry_topics(settings, topics)
    try:
        client = SchemaRegistryClient(registry_client_config(settings.registry, resolve_path, environ))
    except ConfigError as error:
        return [failed("registry", str(error))]
    try:
        return [subject_result(client, f"{topic}-value") for topic in checked]
    finally:
        client.close()


def subject_result(client: SchemaRegistryClient, subject: str) -> CheckResult:
    name = f"registry subject {subject}"
    try:
        latest = client.get_latest_version(subject)
    except SchemaRegistryError as error:
        if error.http_status_code == 404:
            return failed(name, f"not registered (TopicNameStrategy; SR code {error.error_code})")
        if error.http_status_code in (401, 403):
            return failed(name, f"the registry refused the credentials (HTTP {error.http_status_code})")
        return failed(name, f"the registry answered HTTP {error.http_status_code} (SR code {error.error_code})")
    except Exception as error:  # noqa: BLE001 - any transport failure of the bundled HTTP client: unreachable
        return failed(name, f"the registry did not answer: {type(error).__name__}: {error}")
    return passed(name, f"version {latest.version} (schema id {latest.schema_id})")
