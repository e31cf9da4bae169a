"""The reference the service is compared with: one synchronous POST per event, as the common guides integrate.

TikTok's server-side GTM template, Segment, Stape and Zaraz send one event per request. This client does the same
in its most favourable form: the stdlib ``http.client`` on one keep-alive connection, sequential, with request
bodies (the service's own encoding, one event each) built before the clock starts, so only the request pattern is
measured, not the mapping work.
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from bench.harness import Stopwatch


@dataclass(frozen=True, slots=True)
class PerEventResult:
    """How many single-event requests were sent, how many TikTok accepted (body code 0), and the wall time."""

    sent: int
    accepted: int
    elapsed_s: float

    @property
    def events_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


def post_each(url: str, access_token: str, bodies: Sequence[bytes], timeout_s: float = 30.0) -> PerEventResult:
    """POST each body in turn on one keep-alive connection, reading every response before the next request."""
    parts = urlsplit(url)
    connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(parts.hostname or "127.0.0.1", parts.port, timeout=timeout_s)
    headers = {"Access-Token": access_token, "Content-Type": "application/json"}
    path = parts.path or "/"
    accepted = 0
    clock = Stopwatch()
    try:
        for body in bodies:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status == 200 and orjson.loads(payload).get("code") == 0:
                accepted += 1
    finally:
        connection.close()
    return PerEventResult(sent=len(bodies), accepted=accepted, elapsed_s=clock.elapsed_s)
