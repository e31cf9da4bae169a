"""A tiny OAuth 2.0 token endpoint on loopback (client credentials grant), for the OIDC tests.

It issues unsigned JWTs (``alg: none``), which the test broker's unsecured OAUTHBEARER validator accepts, and
records each token request (the Basic client credentials and the form body), so a test can show that librdkafka or
the schema registry client fetched a token from it.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.loopback_http import serving


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def unsigned_jwt(subject: str, lifetime_s: int = 3600) -> str:
    now = int(time.time())
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': subject, 'iat': now, 'exp': now + lifetime_s})}."


@dataclass
class TokenRequest:
    client_id: str | None
    client_secret: str | None
    form: dict[str, str]


@dataclass
class TokenServer:
    """Issues ``token`` (an hour's JWT for ``subject``) to any client credentials; ``requests`` lists what was
    asked."""

    subject: str = "relay"
    requests: list[TokenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.token = unsigned_jwt(self.subject)

    @property
    def token_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/oauth2/token"

    @contextmanager
    def running(self) -> Iterator[TokenServer]:
        with serving(_handler_for(self), "token-server") as server:
            self._server = server
            yield self

    def answer(self, authorization: str | None, body: bytes) -> dict[str, object]:
        client_id = client_secret = None
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        form = dict(urllib.parse.parse_qsl(body.decode()))
        client_id = form.get("client_id", client_id)
        client_secret = form.get("client_secret", client_secret)
        self.requests.append(TokenRequest(client_id, client_secret, form))
        return {"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}


def _handler_for(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = json.dumps(server.answer(self.headers.get("Authorization"), body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read ``requests`` instead."""

    return Handler
