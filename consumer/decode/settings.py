"""Settings of decoding (section ``schemas``): a schema registry, or a local writer schema per topic.

Registry credentials are never read from the file: the file names the environment variables that hold them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class RegistryOAuthSettings(BaseModel):
    """OAuth 2.0 client credentials for the registry (Confluent Cloud, or any registry behind an OAuth gateway): the
    client fetches a token from ``token_url`` and sends it as a bearer token. The client id and secret come from the
    environment variables named here."""

    model_config = ConfigDict(extra="forbid")

    token_url: str = Field(min_length=1, description="the identity provider's token endpoint (client credentials)")
    client_id_env: str = Field(min_length=1, description="name of the environment variable holding the client id")
    client_secret_env: str = Field(
        min_length=1, description="name of the environment variable holding the client secret"
    )
    scope: str = Field(default="", description="scope requested with the token (space-separated)")
    logical_cluster: str = Field(
        min_length=1, description="the registry's logical cluster id (Confluent Cloud: lsrc-...), sent as a header"
    )
    identity_pool_id: str | None = Field(
        default=None, min_length=1, description="Confluent Cloud identity pool id (pool-...), when it is used"
    )


class RegistrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        description="Schema registry base URL, http(s)://host:port; several comma-separated URLs are tried in turn.",
    )
    username_env: str | None = Field(
        default=None, min_length=1, description="name of the environment variable holding the basic-auth user name"
    )
    password_env: str | None = Field(
        default=None, min_length=1, description="name of the environment variable holding the basic-auth password"
    )
    oauth: RegistryOAuthSettings | None = Field(
        default=None, description="OAuth client credentials instead of basic auth (Confluent Cloud, OAuth gateways)"
    )
    ca_location: Path | None = Field(default=None, description="CA bundle (file or directory) to verify the registry")
    certificate_location: Path | None = Field(default=None, description="client certificate (PEM) for mutual TLS")
    key_location: Path | None = Field(default=None, description="client private key (PEM, unencrypted) for mutual TLS")
    timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="timeout of one registry request (the decode call waits that long)"
    )
    max_retries: int = Field(
        default=0,
        ge=0,
        le=10,
        description="client retries of one request (timeouts, connection errors, 408/429/5xx); the pipeline "
        "already retries RegistryUnavailable with backoff, so more only lengthens each blocked decode call",
    )
    retry_wait_ms: int = Field(default=200, ge=0, description="first client retry backoff (full jitter, doubling)")
    retry_max_wait_ms: int = Field(default=2000, ge=0, description="cap of the client retry backoff")

    @field_validator("url")
    @classmethod
    def _http_without_credentials(cls, value: str) -> str:
        for url in value.split(","):
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("each URL must be http:// or https:// with a host")
            if parts.username or parts.password:
                raise ValueError("credentials do not belong in the URL: set username_env and password_env")
        return value

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> Self:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("set both username_env and password_env, or neither")
        if self.username_env is not None and self.oauth is not None:
            raise ValueError("set basic auth (username_env, password_env) or oauth, not both")
        if self.key_location is not None and self.certificate_location is None:
            raise ValueError("key_location needs certificate_location")
        return self


class TopicSchemaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["confluent", "avro"] = Field(
        default="confluent",
        description="confluent: magic byte 0 + 4-byte schema id + Avro, writer schema from the registry; "
        "avro: plain schemaless Avro written with writer_schema",
    )
    writer_schema: Path | None = Field(
        default=None, description="the .avsc every message of the topic was written with (format avro only)"
    )
    reader_schema: Path | None = Field(
        default=None,
        description="the .avsc records are resolved to (Avro schema evolution); default: the writer schema",
    )

    @model_validator(mode="after")
    def _writer_schema_matches_format(self) -> Self:
        if self.format == "avro" and self.writer_schema is None:
            raise ValueError("format avro needs writer_schema")
        if self.format == "confluent" and self.writer_schema is not None:
            raise ValueError("format confluent takes the writer schema from the registry: remove writer_schema")
        return self


class DecodeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: RegistrySettings | None = Field(
        default=None, description="the schema registry; required when any topic uses the confluent format"
    )
    topics: dict[str, TopicSchemaSettings] = Field(
        default_factory=dict, description="per-topic decoding; a topic not listed here is confluent with no reader"
    )
    reader_schemas: list[Path] = Field(
        default_factory=list,
        description="reader schemas chosen by record full name, for topics without their own reader_schema",
    )

    @model_validator(mode="after")
    def _registry_for_confluent_topics(self) -> Self:
        confluent = sorted(name for name, topic in self.topics.items() if topic.format == "confluent")
        if confluent and self.registry is None:
            raise ValueError(f"topics {', '.join(confluent)} use the confluent format: set schemas.registry.url")
        return self

    def undecodable_topics(self, topics: Iterable[str]) -> list[str]:
        """The given topics that these settings cannot decode: unlisted topics when no registry is configured."""
        if self.registry is not None:
            return []
        return sorted(set(topics) - set(self.topics))
