"""A local stand-in for a Confluent schema registry, for tests: no real registry can be installed here.

It serves, on 127.0.0.1 and a free port, the REST endpoints ``confluent_kafka.schema_registry.SchemaRegistryClient``
calls to register and read schemas: ``POST /subjects/{subject}/versions``, ``GET /schemas/ids/{id}``,
``GET /subjects``, ``GET /subjects/{subject}/versions`` and ``GET /subjects/{subject}/versions/{version|latest}``,
with the registry's error bodies (``{"error_code": 40403, "message": ...}``). Ids are global and stable: the same
schema registered twice, under any subject, keeps its id. Faults can be injected: ``fail_with`` answers every
request with that HTTP status, ``delay_s`` delays every answer, ``credentials`` demands HTTP basic auth.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.loopback_http import serving

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


@dataclass(frozen=True)
class Registered:
    """One schema version under one subject."""

    schema_id: int
    subject: str
    version: int
    schema: str
    schema_type: str = "AVRO"
    references: tuple[dict[str, Any], ...] = ()

    def schema_body(self) -> dict[str, Any]:
        """The schema as ``GET /schemas/ids/{id}`` returns it (the type is omitted for Avro, as the registry does)."""
        body: dict[str, Any] = {"schema": self.schema}
        if self.schema_type != "AVRO":
            body["schemaType"] = self.schema_type
        if self.references:
            body["references"] = list(self.references)
        return body

    def version_body(self) -> dict[str, Any]:
        return {"subject": self.subject, "version": self.version, "id": self.schema_id, **self.schema_body()}


class RegistryError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class RegistryDouble:
    """The registry's state, its fault switches and the requests it served (method, path), in order."""

    credentials: tuple[str, str] | None = None
    bearer_token: str | None = None  # when set, only `Authorization: Bearer <it>` is let in (OAuth)
    fail_with: int | None = None
    delay_s: float = 0.0
    requests: list[tuple[str, str]] = field(default_factory=list)
    _subjects: dict[str, list[Registered]] = field(default_factory=dict)
    _ids: dict[tuple[str, str, str], int] = field(default_factory=dict)
    _by_id: dict[int, Registered] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the registry double is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def register(
        self, subject: str, schema: str, schema_type: str = "AVRO", references: tuple[dict[str, Any], ...] = ()
    ) -> Registered:
        """Register ``schema`` under ``subject`` (as POST /subjects/{subject}/versions does) and return the entry."""
        with self._lock:
            versions = self._subjects.setdefault(subject, [])
            for entry in versions:
                if entry.schema == schema and entry.schema_type == schema_type:
                    return entry
            key = (schema, schema_type, json.dumps(references, sort_keys=True))
            schema_id = self._ids.setdefault(key, len(self._ids) + 1)
            entry = Registered(schema_id, subject, len(versions) + 1, schema, schema_type, references)
            versions.append(entry)
            self._by_id.setdefault(schema_id, entry)
            return entry

    def lookups_of(self, path_prefix: str) -> int:
        """How many requests asked for a path starting with ``path_prefix``."""
        return sum(1 for _, path in self.requests if path.startswith(path_prefix))

    def answer(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """The JSON answer to one request; raises ``RegistryError`` for the registry's error answers."""
        parts = [unquote(part) for part in path.strip("/").split("/")]
        match method, parts:
            case "GET", ["schemas", "ids", schema_id]:
                entry = self._by_id.get(int(schema_id)) if schema_id.isdigit() else None
                if entry is None:
                    raise RegistryError(404, 40403, f"Schema {schema_id} not found")
                return entry.schema_body()
            case "GET", ["subjects"]:
                return sorted(self._subjects)
            case "GET", ["subjects", subject, "versions"]:
                return [entry.version for entry in self._versions(subject)]
            case "GET", ["subjects", subject, "versions", version]:
                return self._version(subject, version).version_body()
            case "POST", ["subjects", subject, "versions"]:
                assert body is not None
                registered = self.register(
                    subject, body["schema"], body.get("schemaType", "AVRO"), tuple(body.get("references") or ())
                )
                return {"id": registered.schema_id}
        raise RegistryError(404, 404, f"HTTP 404 Not Found: {method} {path}")

    def _versions(self, subject: str) -> list[Registered]:
        versions = self._subjects.get(subject)
        if not versions:
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        return versions

    def _version(self, subject: str, version: str) -> Registered:
        versions = self._versions(subject)
        if version == "latest":
            return versions[-1]
        if version.isdigit() and 1 <= int(version) <= len(versions):
            return versions[int(version) - 1]
        raise RegistryError(404, 40402, f"Version {version} not found.")

    def authorized(self, header: str | None) -> bool:
        if self.bearer_token is not None:
            return header == f"Bearer {self.bearer_token}"
        if self.credentials is None:
            return True
        expected = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {expected}"

    @contextmanager
    def running(self) -> Iterator[RegistryDouble]:
        """Serve on 127.0.0.1 and a free port until the block ends."""
        with serving(_handler_for(self), "registry-double") as server:
            self._server = server
            try:
                yield self
            finally:
                self._server = None


def _handler_for(registry: RegistryDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            path = urlsplit(self.path).path
            registry.requests.append((method, path))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if registry.delay_s:
                time.sleep(registry.delay_s)
            if registry.fail_with is not None:
                self._reply(registry.fail_with, {"error_code": registry.fail_with, "message": "injected fault"})
            elif not registry.authorized(self.headers.get("Authorization")):
                self._reply(401, {"error_code": 40101, "message": "Unauthorized"})
            else:
                try:
                    self._reply(200, registry.answer(method, path, body))
                except RegistryError as error:
                    self._reply(error.status, {"error_code": error.code, "message": error.message})

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout tests delay answers on purpose)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request stderr line."""

    return Handler
