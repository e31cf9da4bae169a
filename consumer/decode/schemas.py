"""Where writer and reader schemas come from, parsed once: local ``.avsc`` files, and the schema registry by id.

Parsing is the expensive part of Avro decoding, so nothing here runs per message: local files are parsed when the
decoder is built, registry schemas the first time their id is seen, and both are kept for the process lifetime
(a registry holds a bounded set of schemas, and ids that do not resolve are never kept).

A registry request can take its full timeout and retries, several times over for a schema with references. The
service must not wait for that on its event loop (health endpoints, rebalance callbacks and HTTP timeouts run
there), so it fetches in the background: the first lookup of an id starts one fetch in a worker thread (the schema
and its references, one fetch per id at a time) and raises ``SchemaFetchPendingError`` until it ends; the caller holds
the message and asks again when the fetch's ``ready`` future is done, which returns the schema or raises the
fetch's error (a failed fetch is not kept: the next lookup fetches again). Tools that decode one message at a time
fetch in place.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import structlog
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient, SchemaRegistryError
from fastavro import parse_schema
from fastavro.schema import SchemaParseException

from consumer.decode.errors import RegistryUnavailable, SchemaFetchPendingError, SchemaMismatchError, UnknownSchemaError
from consumer.decode.settings import RegistryOAuthSettings, RegistrySettings
from consumer.errors import ConfigError, required_env
from consumer.observability.metrics import SCHEMA_FETCHES

log = structlog.get_logger(__name__)
_T = TypeVar("_T")

FETCH_THREADS = 4
"""Schema ids fetched at once in the background (each id by one thread at a time)."""

_PARSE_ERRORS = (SchemaParseException, ValueError, TypeError, KeyError, AttributeError)
"""What fastavro and json raise for a definition that is not a valid Avro schema (UnknownType is a ValueError)."""


@dataclass(frozen=True, slots=True)
class AvroSchema:
    """A parsed Avro record schema: its full name (``namespace.Name``) and fastavro's parsed form."""

    name: str
    parsed: dict[str, Any]


class InvalidSchemaError(ValueError):
    """A schema definition that does not parse, or is not a record (domain events are records)."""


def parse_record_schema(definition: str, named_schemas: dict[str, Any] | None = None) -> AvroSchema:
    """Parse a JSON schema definition; ``named_schemas`` holds types defined elsewhere (registry references)."""
    try:
        parsed = parse_schema(json.loads(definition), named_schemas=named_schemas)
    except _PARSE_ERRORS as error:
        raise InvalidSchemaError(f"not a valid Avro schema ({type(error).__name__}: {error})") from None
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise InvalidSchemaError("not an Avro record schema")
    return AvroSchema(name=parsed["name"], parsed=parsed)


@cache
def load_schema_file(path: Path) -> AvroSchema:
    """The record schema in an ``.avsc`` file, parsed once per path; ``ConfigError`` names the file if it is bad."""
    try:
        definition = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"schema file {path}: {error.strerror or error}") from None
    try:
        return parse_record_schema(definition)
    except InvalidSchemaError as error:
        raise ConfigError(f"schema file {path}: {error}") from None


def registry_client_config(
    settings: RegistrySettings, resolve_path: Callable[[Path], Path], environ: Mapping[str, str]
) -> dict[str, Any]:
    """The ``SchemaRegistryClient`` configuration for ``settings``, with credentials from the named variables."""
    conf: dict[str, Any] = {
        "url": settings.url,
        "timeout": settings.timeout_s,
        "max.retries": settings.max_retries,
        "retries.wait.ms": settings.retry_wait_ms,
        "retries.max.wait.ms": settings.retry_max_wait_ms,
    }
    tls_files = {
        "ssl.ca.location": settings.ca_location,
        "ssl.certificate.location": settings.certificate_location,
        "ssl.key.location": settings.key_location,
    }
    conf.update({key: str(resolve_path(path)) for key, path in tls_files.items() if path is not None})
    if settings.username_env and settings.password_env:
        user = required_env(environ, settings.username_env, "schemas.registry.username_env")
        password = required_env(environ, settings.password_env, "schemas.registry.password_env")
        conf["basic.auth.user.info"] = f"{user}:{password}"
    if settings.oauth is not None:
        conf.update(registry_oauth_config(settings.oauth, environ))
    return conf


def registry_oauth_config(oauth: RegistryOAuthSettings, environ: Mapping[str, str]) -> dict[str, Any]:
    """The confluent client's OAuth bearer settings: it fetches and refreshes the token itself."""
    conf: dict[str, Any] = {
        "bearer.auth.credentials.source": "OAUTHBEARER",
        "bearer.auth.issuer.endpoint.url": oauth.token_url,
        "bearer.auth.client.id": required_env(environ, oauth.client_id_env, "schemas.registry.oauth.client_id_env"),
        "bearer.auth.client.secret": required_env(
            environ, oauth.client_secret_env, "schemas.registry.oauth.client_secret_env"
        ),
        "bearer.auth.scope": oauth.scope,
        "bearer.auth.logical.cluster": oauth.logical_cluster,
    }
    if oauth.identity_pool_id is not None:
        conf["bearer.auth.identity.pool.id"] = oauth.identity_pool_id
    return conf


class RegistrySchemas:
    """Writer schemas fetched from the schema registry by id and kept parsed.

    A registry answering 404 means the id does not exist (``UnknownSchemaError``, permanent); any other failure to get
    an answer (connection refused, timeout, 5xx, 401/403) is an outage (``RegistryUnavailable``, retried)."""

    def __init__(self, client: SchemaRegistryClient, *, in_background: bool = False) -> None:
        """``in_background``: fetch in worker threads (from an event loop; see the module docstring)."""
        self._client = client
        self._by_id: dict[int, AvroSchema] = {}
        self._fetching: dict[int, asyncio.Future[AvroSchema]] = {}
        self._executor = (
            ThreadPoolExecutor(max_workers=FETCH_THREADS, thread_name_prefix="schema-registry")
            if in_background
            else None
        )

    @classmethod
    def from_settings(
        cls,
        settings: RegistrySettings,
        resolve_path: Callable[[Path], Path],
        environ: Mapping[str, str],
        *,
        in_background: bool = False,
    ) -> RegistrySchemas:
        """A client for the configured registry; no request is made until the first schema id is looked up."""
        try:
            client = SchemaRegistryClient(registry_client_config(settings, resolve_path, environ))
        except (ValueError, OSError) as error:
            raise ConfigError(f"schemas.registry: {error}") from None
        return cls(client, in_background=in_background)

    def get(self, schema_id: int) -> AvroSchema:
        """The parsed writer schema registered under ``schema_id``; fetched on first use only (in the background:
        ``SchemaFetchPendingError`` until the fetch has ended)."""
        schema = self._by_id.get(schema_id)
        if schema is None:
            schema = self._fetch(schema_id) if self._executor is None else self._fetched(schema_id, self._executor)
            self._by_id[schema_id] = schema
        return schema

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def _fetched(self, schema_id: int, executor: ThreadPoolExecutor) -> AvroSchema:
        """The result of the background fetch of ``schema_id``, started here if none runs."""
        fetch = self._fetching.get(schema_id)
        if fetch is None:
            fetch = asyncio.wrap_future(executor.submit(self._fetch, schema_id))
            self._fetching[schema_id] = fetch
        if not fetch.done():
            raise SchemaFetchPendingError(f"schema id {schema_id} is being fetched from the registry", fetch)
        del self._fetching[schema_id]
        return fetch.result()

    def _fetch(self, schema_id: int) -> AvroSchema:
        registered = _ask(f"schema id {schema_id}", partial(self._client.get_schema, schema_id))
        try:
            schema = self._parse(registered)
        except SchemaMismatchError as error:
            SCHEMA_FETCHES.labels(outcome="invalid").inc()
            raise SchemaMismatchError(f"schema id {schema_id}: {error}") from None
        SCHEMA_FETCHES.labels(outcome="ok").inc()
        log.info("schema_fetched", schema_id=schema_id, schema_name=schema.name)
        return schema

    def _parse(self, registered: Schema) -> AvroSchema:
        if (registered.schema_type or "AVRO") != "AVRO":
            raise SchemaMismatchError(f"a {registered.schema_type} schema, not Avro")
        named: dict[str, Any] = {}
        self._parse_references(registered.references or [], named, set())
        try:
            return parse_record_schema(registered.schema_str or "", named)
        except InvalidSchemaError as error:
            raise SchemaMismatchError(str(error)) from None

    def _parse_references(
        self, references: Iterable[SchemaReference], named: dict[str, Any], seen: set[tuple[str, int]]
    ) -> None:
        """Parse the named types a registry schema imports from other subjects, dependencies first, into ``named``."""
        for reference in references:
            subject, version = reference.subject or "", reference.version or -1
            if (subject, version) in seen:
                continue
            seen.add((subject, version))
            what = f"reference {subject} version {version}"
            schema = _ask(what, partial(self._client.get_version, subject, version)).schema
            self._parse_references(schema.references or [], named, seen)
            try:
                parse_schema(json.loads(schema.schema_str or ""), named_schemas=named)
            except _PARSE_ERRORS as error:
                raise SchemaMismatchError(f"{what} is not a valid Avro schema ({type(error).__name__})") from None


def _ask(what: str, request: Callable[[], _T]) -> _T:
    """Run one registry request, turning its failure into ``UnknownSchemaError`` (404) or ``RegistryUnavailable``."""
    try:
        return request()
    except SchemaRegistryError as error:
        if error.http_status_code == 404:
            SCHEMA_FETCHES.labels(outcome="not_found").inc()
            raise UnknownSchemaError(f"registry has no {what} (SR code {error.error_code})") from None
        SCHEMA_FETCHES.labels(outcome="unavailable").inc()
        raise RegistryUnavailable(
            f"registry answered HTTP {error.http_status_code} for {what} (SR code {error.error_code})"
        ) from None
    except Exception as error:
        # Whatever stops the client from getting an answer (transport errors of whichever httpx it bundles, TLS,
        # an unreadable body) is an outage: stall and retry, never dead-letter good messages over it.
        SCHEMA_FETCHES.labels(outcome="unavailable").inc()
        raise RegistryUnavailable(f"registry unreachable for {what}: {type(error).__name__}: {error}") from error
