"""HTTP to the TikTok Events API, and nothing else: post a body, return what came back or how it failed.

One ``aiohttp.ClientSession`` is shared by every request: keep-alive connections, a pool as large as the
in-flight bound, explicit connect and total timeouts, no redirects (a POST must not silently become a GET).
The access token is revealed only here, into the ``Access-Token`` header.

Egress: an explicit ``tiktok.proxy`` (credentials from the environment variables the settings name), else the
standard ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables (``trust_env``); HTTPS goes through a proxy by
CONNECT, so the proxy sees neither the token nor the body.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from pydantic import SecretStr

from consumer.errors import ConfigError, required_env
from consumer.sending.classify import TransportErrorKind
from consumer.sending.settings import TikTokSettings


@dataclass(frozen=True, slots=True)
class TrackResponse:
    """A response: the HTTP status, the body envelope's fields when it had them, and a raw ``Retry-After``."""

    http_status: int
    code: int | None = None
    message: str | None = None
    request_id: str | None = None
    retry_after: str | None = None


class TransportError(Exception):
    """No response: the request timed out or the connection failed. The message never contains the token."""

    def __init__(self, kind: TransportErrorKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: TransportErrorKind = kind


def parse_response(http_status: int, body: bytes, retry_after: str | None = None) -> TrackResponse:
    """Read the ``{code, message, request_id, data}`` envelope if the body is one; tolerate anything else."""
    try:
        envelope: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        envelope = None
    if not isinstance(envelope, dict):
        return TrackResponse(http_status, retry_after=retry_after)
    code, message, request_id = envelope.get("code"), envelope.get("message"), envelope.get("request_id")
    return TrackResponse(
        http_status,
        code if type(code) is int else None,
        message if isinstance(message, str) else None,
        request_id if isinstance(request_id, str) else None,
        retry_after,
    )


def proxy_options(settings: TikTokSettings, environ: Mapping[str, str]) -> dict[str, Any]:
    """Per-request keyword arguments for the explicit proxy: its URL and, when the settings name credential
    variables, a ``Proxy-Authorization`` header built from them. A clear error when a named variable is unset."""
    if settings.proxy is None:
        return {}
    options: dict[str, Any] = {"proxy": settings.proxy}
    if settings.proxy_username_env is not None and settings.proxy_password_env is not None:
        user = required_env(environ, settings.proxy_username_env, "tiktok.proxy_username_env")
        password = required_env(environ, settings.proxy_password_env, "tiktok.proxy_password_env")
        options["proxy_headers"] = {"Proxy-Authorization": aiohttp.encode_basic_auth(user, password)}
    return options


def ssl_context(settings: TikTokSettings) -> ssl.SSLContext | bool:
    """Verify the endpoint against ``ca_location`` when set, else aiohttp's default (the system's CAs)."""
    if settings.ca_location is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(settings.ca_location))
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"tiktok.ca_location {settings.ca_location}: {error}") from None


class TikTokClient:
    """Posts track requests. Owns its session unless one is given (then the caller closes it)."""

    __slots__ = ("_endpoint", "_headers", "_owns_session", "_proxy", "_session", "_settings", "_ssl", "_timeout")

    def __init__(
        self,
        settings: TikTokSettings,
        session: aiohttp.ClientSession | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        """Proxy credentials and the CA are read here, so a missing variable or file fails at start-up."""
        self._settings = settings
        self._proxy = proxy_options(settings, environ)
        self._ssl = ssl_context(settings)
        self._endpoint = settings.endpoint
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s, connect=settings.connect_timeout_s)
        self._headers: dict[SecretStr, dict[str, str]] = {}

    async def start(self) -> None:
        """Open the shared session (when none was given)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._settings.max_in_flight,
                keepalive_timeout=self._settings.keepalive_s,
                ttl_dns_cache=300,
                ssl=self._ssl,
            )
            # The standard proxy variables apply only when no explicit proxy is configured (it would win anyway).
            trust_env = self._settings.trust_env and self._settings.proxy is None
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, trust_env=trust_env)

    async def track(self, body: bytes, token: SecretStr) -> TrackResponse:
        """POST ``body`` with ``token``; raise ``TransportError`` when no response arrives."""
        if self._session is None:
            raise RuntimeError("TikTokClient.start() was not awaited")
        try:
            async with self._session.post(
                self._endpoint,
                data=body,
                headers=self._headers_for(token),
                timeout=self._timeout,
                allow_redirects=False,
                **self._proxy,
            ) as response:
                payload = await response.read()
                return parse_response(response.status, payload, response.headers.get("Retry-After"))
        except TimeoutError as error:
            raise TransportError("timeout", type(error).__name__) from None
        except aiohttp.ClientError as error:
            raise TransportError("connection", f"{type(error).__name__}: {error}") from None

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _headers_for(self, token: SecretStr) -> dict[str, str]:
        headers = self._headers.get(token)
        if headers is None:
            headers = {"Access-Token": token.get_secret_value(), "Content-Type": "application/json"}
            self._headers[token] = headers
        return headers
