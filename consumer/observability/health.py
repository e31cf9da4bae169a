"""Liveness, readiness and Prometheus metrics over HTTP (``observability.http_host``:``http_port``).

- ``GET /livez``: 200 while the poll loop turns; 503 once it has been stuck longer than the stall limit (a
  restart is the cure).
- ``GET /readyz``: 200 when the service is assigned partitions, the broker is reachable, TikTok is not refusing
  the token or permission (the sender holds on such faults) and the consent table (when configured) has read its
  topic to the end at start-up; else 503. The JSON body names each check.
- ``GET /metrics``: the Prometheus text exposition of ``consumer.observability.metrics.REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumer.observability.metrics import REGISTRY

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HealthChecks:
    """What the endpoints ask; each a cheap, non-blocking callable (read on the event loop)."""

    alive: Callable[[], bool]
    assigned: Callable[[], bool]
    broker_reachable: Callable[[], bool]
    sender_ready: Callable[[], bool]
    deadletter_writable: Callable[[], bool] = lambda: True
    consent_table_caught_up: Callable[[], bool] = lambda: True

    def readiness(self) -> dict[str, bool]:
        return {
            "assigned": self.assigned(),
            "broker_reachable": self.broker_reachable(),
            "sender_ready": self.sender_ready(),
            "deadletter_writable": self.deadletter_writable(),
            "consent_table_caught_up": self.consent_table_caught_up(),
        }


class HealthServer:
    """The aiohttp server of the three endpoints; ``port`` is the bound port (useful when configured as 0)."""

    def __init__(self, checks: HealthChecks, host: str, port: int) -> None:
        self._checks = checks
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("http_listening", host=self._host, port=self.port, paths=["/livez", "/readyz", "/metrics"])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _livez(self, _request: web.Request) -> web.Response:
        alive = self._checks.alive()
        return web.json_response({"alive": alive}, status=200 if alive else 503)

    async def _readyz(self, _request: web.Request) -> web.Response:
        checks = self._checks.readiness()
        ready = all(checks.values())
        return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
