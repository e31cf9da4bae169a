"""The sandbox HTTP server: TikTok's track endpoint as TikTok answers it, plus ``/_sandbox/...`` inspection.

``POST /open_api/v1.3/event/track/`` checks, in TikTok's order: the ``Access-Token`` header (40104 missing,
40105 unknown), the per-token request rate (40100), the body (40002 naming the field), the token's access to the
``event_source_id`` (40001, or the code injected for that id), then records the events and answers code 0.
Every answer is HTTP 200 with ``{code, message, request_id, data}``; only injected gateway faults answer 5xx with
an HTML body, and any other path is a 404. Injected faults (``consumer.sandbox.faults``) come before all of it,
after the simulated latency.

Use it from tests as ``async with Sandbox(settings) as sandbox:`` (loopback, a free port), then point the sender
at ``sandbox.track_url``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import ssl
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from consumer.sandbox.faults import FaultInjector, Injection
from consumer.sandbox.pii import pii_hits
from consumer.sandbox.settings import FaultSettings, SandboxSettings
from consumer.sandbox.store import SandboxStore
from consumer.sandbox.validate import validate_envelope, validate_events

TRACK_PATH = "/open_api/v1.3/event/track/"

MESSAGES: dict[int, str] = {
    0: "OK",
    20001: "Partial success.",
    40000: "Invalid parameters.",
    40001: "No permission to operate on this event source.",
    40002: "Invalid parameters.",
    40050: "Duplicated request.",
    40061: "Invalid batch size.",
    40062: "PII data is not hashed.",
    40063: "Invalid partner_name.",
    40100: "Too many requests. Please retry in some time.",
    40102: "Access token has expired.",
    40104: "Access token is null, please check the Access-Token header.",
    40105: "Access token is incorrect or has been revoked.",
    40132: "Too many requests for this pixel. Please retry later.",
    40133: "Too many requests for this advertiser. Please retry later.",
    50000: "Internal service error.",
    50002: "Service is under maintenance. Please retry later.",
    51012: "Internal service error, please retry.",
    60001: "System is busy, please retry later.",
    61000: "Too many requests.",
}

_JSON = "application/json"
_ALL_IDS: frozenset[str] = frozenset()


class Sandbox:
    """A TikTok Events API double: an aiohttp app, its state store and its fault injector."""

    def __init__(self, settings: SandboxSettings | None = None, *, clock: Callable[[], float] = time.time) -> None:
        """``clock`` gives wall-clock seconds (deduplication window, rate-limit windows, request ids)."""
        self.settings = settings or SandboxSettings()
        self._clock = clock
        self._tokens = (
            None
            if self.settings.tokens is None
            else {token: frozenset(ids) for token, ids in self.settings.tokens.items()}
        )
        self.store = SandboxStore(self.settings.dedup_window_s, self.settings.max_recorded_events)
        self.faults = FaultInjector(self.settings.faults, random.Random(self.settings.seed))  # noqa: S311 - not crypto
        self._rate_window = 0
        self._rate_counts: dict[str, int] = {}
        self._request_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = self._build_app()

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> str:
        """Serve on ``host:port`` (0: a free port), over HTTPS when ``ssl_context`` is given; return the base URL."""
        runner = web.AppRunner(self.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"{'https' if ssl_context else 'http'}://{bound_host}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        """Stop serving; requests still hanging are cancelled."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the sandbox is not started")
        return self._base_url

    @property
    def track_url(self) -> str:
        """The URL to configure as ``tiktok.endpoint``."""
        return self.base_url + TRACK_PATH

    def set_faults(self, faults: FaultSettings) -> None:
        """Replace the injected faults (the script restarts, outage windows count from now)."""
        self.faults.apply(faults)

    def reset(self) -> None:
        """Forget recorded events and counters, and clear the faults."""
        self.store.reset()
        self._rate_counts.clear()
        self.set_faults(FaultSettings())

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_post(TRACK_PATH, self._track)
        app.router.add_get("/_sandbox/health", self._health)
        app.router.add_get("/_sandbox/counts", self._counts)
        app.router.add_get("/_sandbox/events", self._events)
        app.router.add_get("/_sandbox/event_ids", self._event_ids)
        app.router.add_get("/_sandbox/faults", self._get_faults)
        app.router.add_put("/_sandbox/faults", self._put_faults)
        app.router.add_delete("/_sandbox/faults", self._delete_faults)
        app.router.add_post("/_sandbox/reset", self._reset)
        return app

    # -- the track endpoint --------------------------------------------------------------------------------------

    async def _track(self, request: web.Request) -> web.StreamResponse:
        self.store.request_started()
        try:
            return await self._answer_track(request)
        finally:
            self.store.request_finished()

    async def _answer_track(self, request: web.Request) -> web.StreamResponse:
        latency = self.faults.latency_s()
        if latency:
            await asyncio.sleep(latency)
        injection = self.faults.pick()
        if injection is not None and not injection.passes_through:
            return await self._injected(injection)
        code, message = await self._process(request)
        if code == 0 and injection is not None and injection.code is not None:
            code, message = injection.code, injection.message
        return self._answer(code, message)

    async def _process(self, request: web.Request) -> tuple[int, str | None]:
        """Authenticate, validate and record a request; the code (and message) to answer."""
        token = request.headers.get("Access-Token")
        if not token:
            return 40104, None
        allowed = self._allowed_ids(token)
        if allowed is None:
            return 40105, None
        now = self._clock()
        if self._rate_limited(token, now):
            return 40100, None
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.store.count_response(413, None)
            raise
        self.store.note_body(len(raw))
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        self.store.note_pii_hits(pii_hits(raw))
        # TikTok authorises the token for the event source before it validates the events, so a request without
        # events tells token and permission errors apart from accepted ones (`tiktok-relay check` relies on it).
        event_source_id = body.get("event_source_id") if isinstance(body, dict) else None
        if isinstance(event_source_id, str):
            refusal = self._refusal(event_source_id, allowed)
            if refusal is not None:
                return refusal
        error = validate_envelope(body)
        if error is None:
            error = validate_events(body["event_source"], body["data"], self.faults.rejected_event_ids)
        if error is not None:
            return 40002, error
        self.store.record(body["event_source"], body["event_source_id"], body.get("test_event_code"), body["data"], now)
        return 0, None

    def _allowed_ids(self, token: str) -> frozenset[str] | None:
        """The event_source_ids ``token`` may use (empty: all), or None for an unknown token."""
        if self._tokens is None:
            return _ALL_IDS
        return self._tokens.get(token)

    def _refusal(self, event_source_id: str, allowed: frozenset[str]) -> tuple[int, str | None] | None:
        """40001 when the token may not use ``event_source_id``, or the code injected for it; None: go on."""
        if allowed and event_source_id not in allowed:
            return 40001, f"No permission to operate on event_source_id {event_source_id}."
        injected = self.faults.settings.event_source_codes.get(event_source_id)
        return None if injected is None else (injected, None)

    def _rate_limited(self, token: str, now: float) -> bool:
        limit = self.settings.rate_limit_rps
        if limit is None:
            return False
        window = int(now)
        if window != self._rate_window:
            self._rate_window = window
            self._rate_counts.clear()
        count = self._rate_counts[token] = self._rate_counts.get(token, 0) + 1
        return count > limit

    async def _injected(self, injection: Injection) -> web.StreamResponse:
        headers = {"Retry-After": injection.retry_after} if injection.retry_after else None
        if injection.hang:
            await asyncio.sleep(self.faults.settings.timeout_hang_s)
            return self._gateway_error(504, None)
        if injection.http_status != 200:
            return self._gateway_error(injection.http_status, headers)
        return self._answer(injection.code if injection.code is not None else 0, injection.message, headers)

    def _answer(self, code: int, message: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
        """TikTok's envelope, HTTP 200."""
        self.store.count_response(200, code)
        body = {
            "code": code,
            "message": message or MESSAGES.get(code, "Error."),
            "request_id": self._request_id(),
            "data": {},
        }
        return web.Response(body=orjson.dumps(body), content_type=_JSON, headers=headers)

    def _gateway_error(self, status: int, headers: dict[str, str] | None) -> web.Response:
        """A gateway's HTML error page, as TikTok's edge answers 502/503."""
        self.store.count_response(status, None)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        html = f"<html><head><title>{status} {phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>"
        return web.Response(status=status, text=html, content_type="text/html", headers=headers)

    def _request_id(self) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(self._clock()))
        return f"{stamp}{next(self._request_ids):012X}"

    # -- inspection ----------------------------------------------------------------------------------------------

    async def _health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, dumps=_dumps)

    async def _counts(self, _request: web.Request) -> web.Response:
        return web.json_response(self.store.counts(), dumps=_dumps)

    async def _events(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            limit = int(query.get("limit", "100"))
        except ValueError:
            return _bad_request("limit must be an integer")
        events = self.store.events(query.get("event_source_id"), query.get("event"), query.get("event_id"), limit)
        return web.json_response({"events": events}, dumps=_dumps)

    async def _event_ids(self, request: web.Request) -> web.Response:
        event_source_id = request.query.get("event_source_id")
        if not event_source_id:
            return _bad_request("event_source_id is required")
        ids = self.store.event_ids(event_source_id, request.query.get("event"))
        return web.json_response({"event_ids": ids}, dumps=_dumps)

    async def _get_faults(self, _request: web.Request) -> web.Response:
        return web.json_response(self.faults.settings.model_dump(), dumps=_dumps)

    async def _put_faults(self, request: web.Request) -> web.Response:
        try:
            faults = FaultSettings.model_validate_json(await request.read())
        except ValidationError as error:
            return _bad_request(str(error))
        self.set_faults(faults)
        return web.json_response(faults.model_dump(), dumps=_dumps)

    async def _delete_faults(self, _request: web.Request) -> web.Response:
        self.set_faults(FaultSettings())
        return web.json_response(self.faults.settings.model_dump(), dumps=_dumps)

    async def _reset(self, _request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"status": "reset"}, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400, dumps=_dumps)
