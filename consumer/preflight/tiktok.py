"""TikTok checks: each destination's access token is accepted, by a request that records nothing.

The request names the destination (``event_source``, ``event_source_id``) and a ``test_event_code`` and carries an
empty ``data`` array. TikTok authenticates the token and the permission for the event source before it validates
the events, so the answer says what the check needs without an event being recorded anywhere (not even in the Test
Events view): a token or permission error (40001, 40102, 40104, 40105) fails the check; the invalid-parameter
answer to the empty ``data`` (40002) means the token and permission passed. The sandbox answers in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from consumer.mapping.settings import LookupSettings, RouteSettings
from consumer.preflight.result import CheckResult, failed, passed
from consumer.sending.classify import Decision, classify_response, classify_transport_error
from consumer.sending.client import TikTokClient, TrackResponse, TransportError
from consumer.sending.settings import TikTokSettings
from consumer.sending.tokens import TOKEN_ENV, TokenStore, env_suffix

CHECK_TEST_EVENT_CODE = "TIKTOK_RELAY_CHECK"
"""Sent when the config sets no ``test_event_code``: should anything ever be recorded, it lands in Test Events."""


def destinations(routes: Iterable[RouteSettings]) -> dict[tuple[str, str], str | None]:
    """Every (event_source, event_source_id) the routes can send to, in config order (fixed ids, and every id of a
    lookup table and its default), with the first route's own ``test_event_code``."""
    found: dict[tuple[str, str], str | None] = {}
    for route in routes:
        spec = route.event_source_id
        ids = [*spec.table.values(), *filter(None, [spec.default])] if isinstance(spec, LookupSettings) else [spec]
        for event_source_id in ids:
            found.setdefault((route.event_source, event_source_id), route.test_event_code)
    return found


def check_body(event_source: str, event_source_id: str, test_event_code: str | None) -> bytes:
    """A track request without events: authenticated and authorised by TikTok, never recorded."""
    return orjson.dumps(
        {
            "event_source": event_source,
            "event_source_id": event_source_id,
            "test_event_code": test_event_code or CHECK_TEST_EVENT_CODE,
            "data": [],
        }
    )


def token_result(name: str, response: TrackResponse | TransportError) -> CheckResult:
    """What TikTok's answer says about the token (see the module docstring)."""
    if isinstance(response, TransportError):
        verdict = classify_transport_error(response.kind)
        return failed(name, f"TikTok did not answer ({verdict.reason}): {response}")
    verdict = classify_response(response.http_status, response.code)
    answer = f"HTTP {response.http_status}, code {response.code}" + (
        f": {response.message}" if response.message else ""
    )
    if verdict.decision in (Decision.DELIVERED, Decision.ISOLATE):
        return passed(name, f"token accepted ({answer}; nothing recorded)")
    if verdict.decision == Decision.AUTH_FAULT:
        return failed(name, f"token or permission rejected, {verdict.reason} ({answer})")
    return failed(name, f"could not be verified, {verdict.reason} ({answer})")


async def tiktok_checks(
    settings: TikTokSettings, routes: Sequence[RouteSettings], tokens: TokenStore
) -> list[CheckResult]:
    """One check per destination, through the relay's own HTTP client (so its proxy and CA settings apply)."""
    client = TikTokClient(settings)
    await client.start()
    results = []
    try:
        for (event_source, event_source_id), route_test_code in destinations(routes).items():
            name = f"tiktok {event_source} {event_source_id}"
            token = tokens.token_for(event_source_id)
            if token is None:
                variables = f"{TOKEN_ENV} or {TOKEN_ENV}_{env_suffix(event_source_id)}"
                results.append(failed(name, f"no access token: set {variables}"))
                continue
            body = check_body(event_source, event_source_id, route_test_code or settings.test_event_code)
            try:
                response: TrackResponse | TransportError = await client.track(body, token)
            except TransportError as error:
                response = error
            results.append(token_result(name, response))
    finally:
        await client.close()
    return results
