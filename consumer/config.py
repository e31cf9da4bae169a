"""The service's one configuration object: a YAML file, overlaid by ``RELAY_``-prefixed environment variables.

Each stage owns the model of its section (``consumer/<stage>/settings.py``); this module only composes them and
turns validation errors into messages that name the bad key, e.g. ``routes.0.event_source: Input should be ...``.
Environment overrides use ``__`` between levels: ``RELAY_KAFKA__BOOTSTRAP_SERVERS=broker:9092``. Secrets (access
tokens, registry credentials) are never read from the file: see ``consumer.sending.tokens``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from consumer.consent_table.settings import ConsentTableSettings
from consumer.deadletter.settings import DeadLetterSettings
from consumer.decode.settings import DecodeSettings
from consumer.errors import ConfigError
from consumer.kafka.settings import KafkaSettings
from consumer.mapping.settings import RouteSettings, SkipSettings, TranslatorSettings, check_route_table
from consumer.observability.settings import ObservabilitySettings
from consumer.policy.settings import PolicySettings
from consumer.sending.settings import TikTokSettings

ENV_PREFIX = "RELAY_"


class RelayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    kafka: KafkaSettings
    schemas: DecodeSettings = Field(default_factory=DecodeSettings)
    routes: Annotated[list[RouteSettings], AfterValidator(check_route_table)] = Field(min_length=1)
    skip: list[SkipSettings] = Field(default_factory=list, description="records that are not conversions")
    policy: PolicySettings = Field(default_factory=PolicySettings)
    tiktok: TikTokSettings = Field(default_factory=TikTokSettings)
    deadletter: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    consent_table: ConsentTableSettings = Field(default_factory=ConsentTableSettings)
    config_dir: Path = Field(default=Path(), exclude=True, description="relative paths resolve against this")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file; no .env or secrets-dir sources, so secrets have one way in.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _resolve_stage_paths(self) -> Self:
        # Stages get only their own section, so paths they open themselves are made absolute here, once.
        if self.tiktok.ca_location is not None:
            self.tiktok.ca_location = self.resolve_path(self.tiktok.ca_location)
        return self

    @model_validator(mode="after")
    def _consent_subjects_have_a_table(self) -> RelayConfig:
        """A route's consent subject needs the table on and names only purposes the table keeps; the table's topic
        must be decodable (else every decision would be skipped and the table stay empty)."""
        undecodable = self.schemas.undecodable_topics(self.consent_topics)
        if undecodable:
            raise ValueError(
                f"consent_table.topic: no schema for {undecodable[0]}: add a schemas.topics entry or a registry"
            )
        kept = set(self.consent_table.purposes)
        for route in self.routes:
            subject = route.consent_subject
            if subject is None:
                continue
            if not self.consent_table.enabled:
                raise ValueError(f"route {route.name!r} has a consent_subject: set consent_table.topic")
            unknown = sorted(set(subject.purposes) - kept)
            if unknown:
                raise ValueError(
                    f"route {route.name!r}: consent_subject.purposes {unknown} are not in consent_table.purposes"
                )
        return self

    @property
    def translation(self) -> TranslatorSettings:
        """The settings ``consumer.mapping.translator.Translator`` is built from."""
        purposes = self.consent_table.purposes if self.consent_table.enabled else None
        return TranslatorSettings(self.routes, self.skip, self.policy, self.tiktok.test_event_code, purposes)

    @property
    def consent_topics(self) -> list[str]:
        """The consent table's topic, when it is on (decoded like the source topics)."""
        return [self.consent_table.topic] if self.consent_table.topic is not None else []

    def resolve_path(self, path: Path) -> Path:
        return path if path.is_absolute() else self.config_dir / path


def format_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "<root>"
        lines.append(f"{key}: {item['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def parse_config(data: Mapping[str, Any], config_dir: Path = Path()) -> RelayConfig:
    """Validate an already-parsed config mapping (environment overrides apply)."""
    try:
        return RelayConfig(**{**data, "config_dir": config_dir})
    except ValidationError as error:
        raise ConfigError(format_validation_error(error)) from None


def load_config(path: Path) -> RelayConfig:
    """Read, validate and return the config file at ``path``; raise ``ConfigError`` naming what is wrong."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping at the top level")
    return parse_config(data, path.resolve().parent)


def config_path_from(cli_value: str | None) -> Path:
    """The config file named on the command line, else ``RELAY_CONFIG``; a clear error when neither is given."""
    value = cli_value or os.environ.get(f"{ENV_PREFIX}CONFIG")
    if not value:
        raise ConfigError(f"no config file: pass --config FILE or set {ENV_PREFIX}CONFIG")
    return Path(value)
