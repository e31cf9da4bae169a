"""The sandbox over loopback HTTP: answers like TikTok, records with dedup, exposes state, injects faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from consumer.sandbox.server import Sandbox
from consumer.sandbox.settings import FaultSettings, Outage, SandboxSettings, ScriptedResponse

TOKENS = {"tok": [], "pix1-only": ["PIX1"]}


def event(event_id: str = "e1", name: str = "Purchase") -> dict[str, Any]:
    return {"event": name, "event_time": 1_700_000_000, "event_id": event_id}


def body(*events: dict[str, Any], source_id: str = "PIX1", **extra: Any) -> dict[str, Any]:
    return {"event_source": "web", "event_source_id": source_id, "data": list(events) or [event()], **extra}


class Clock:
    """A settable wall clock for the deduplication and rate-limit windows."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxSettings(tokens=TOKENS, seed=1)) as running:
        yield running


async def post(
    http: aiohttp.ClientSession, sandbox: Sandbox, payload: Any, token: str | None = "tok"
) -> dict[str, Any]:
    headers = {"Access-Token": token} if token is not None else {}
    async with http.post(sandbox.track_url, data=orjson.dumps(payload), headers=headers) as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


async def get(http: aiohttp.ClientSession, sandbox: Sandbox, path: str) -> Any:
    async with http.get(sandbox.base_url + path) as response:
        return await response.json()


async def test_accepted_request_gets_tiktok_envelope(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Success is HTTP 200 with code 0, a message, a request_id and an empty data object."""
    answer = await post(http, sandbox, body())
    assert answer["code"] == 0
    assert answer["message"] == "OK"
    assert isinstance(answer["request_id"], str)
    assert answer["request_id"]
    assert answer["data"] == {}


async def test_request_ids_are_unique(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Each answer has its own request_id, as operators quote them to TikTok support."""
    ids = {(await post(http, sandbox, body(event(str(i)))))["request_id"] for i in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("path", ["/open_api/v1.3/event/track", "/open_api/v1.2/event/track/", "/"])
async def test_other_paths_are_404(http: aiohttp.ClientSession, sandbox: Sandbox, path: str) -> None:
    """Only the exact track path exists; a missing trailing slash is a 404, as at TikTok."""
    async with http.post(sandbox.base_url + path, data=orjson.dumps(body()), headers={"Access-Token": "tok"}) as r:
        assert r.status == 404


async def test_missing_token_is_40104(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """No Access-Token header answers 40104 (HTTP 200)."""
    assert (await post(http, sandbox, body(), token=None))["code"] == 40104


async def test_unknown_token_is_40105(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A token the sandbox was not given answers 40105."""
    assert (await post(http, sandbox, body(), token="stolen"))["code"] == 40105


async def test_token_without_access_to_the_event_source_is_40001(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A token limited to PIX1 gets 40001 for PIX2, naming the event_source_id, and nothing is recorded."""
    answer = await post(http, sandbox, body(source_id="PIX2"), token="pix1-only")
    assert answer["code"] == 40001
    assert "PIX2" in answer["message"]
    assert (await post(http, sandbox, body(), token="pix1-only"))["code"] == 0
    assert sandbox.store.event_ids("PIX2") == []


async def test_open_mode_accepts_any_token(http: aiohttp.ClientSession) -> None:
    """Without configured tokens every non-empty token is accepted for every event source."""
    async with Sandbox() as open_sandbox:
        assert (await post(http, open_sandbox, body(source_id="ANY"), token="whatever"))["code"] == 0
        assert (await post(http, open_sandbox, body(), token=None))["code"] == 40104


async def test_invalid_input_is_40002_naming_the_field(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A numeric event_id fails the whole request with a message naming the field; nothing is recorded."""
    answer = await post(http, sandbox, body(event("ok"), {**event(), "event_id": 7}))
    assert answer["code"] == 40002
    assert answer["message"] == "Invalid value for data[1].event_id: not a valid string."
    assert sandbox.store.event_ids("PIX1") == []


async def test_body_that_is_not_json_is_40002(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Garbage is an invalid parameter, not a crash."""
    async with http.post(sandbox.track_url, data=b"{not json", headers={"Access-Token": "tok"}) as response:
        assert (await response.json())["code"] == 40002


async def test_body_over_the_size_limit_is_413(http: aiohttp.ClientSession) -> None:
    """An oversized body is refused before it is parsed."""
    async with Sandbox(SandboxSettings(max_body_bytes=2048)) as small:
        payload = orjson.dumps(body(*(event(f"e{i}") for i in range(100))))
        async with http.post(small.track_url, data=payload, headers={"Access-Token": "t"}) as response:
            assert response.status == 413


async def test_rate_limit_answers_40100_within_the_second(http: aiohttp.ClientSession) -> None:
    """Beyond rate_limit_rps requests in one second the answer is 40100; the next second is fresh."""
    clock = Clock()
    async with Sandbox(SandboxSettings(rate_limit_rps=2), clock=clock) as limited:
        codes = [(await post(http, limited, body(), token="t"))["code"] for _ in range(3)]
        clock.now += 1
        codes.append((await post(http, limited, body(), token="t"))["code"])
    assert codes == [0, 0, 40100, 0]


async def test_rate_limit_is_per_token(http: aiohttp.ClientSession) -> None:
    """Each token (developer app) has its own budget."""
    async with Sandbox(SandboxSettings(rate_limit_rps=1), clock=Clock()) as limited:
        codes = [(await post(http, limited, body(), token=token))["code"] for token in ("a", "b", "a")]
    assert codes == [0, 0, 40100]


async def test_duplicates_within_48h_are_merged(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """The same event_source_id + event + event_id counts once; the repeat is a duplicate."""
    await post(http, sandbox, body(event("e1")))
    await post(http, sandbox, body(event("e1")))
    counts = sandbox.store.counts()
    assert (counts["accepted"], counts["duplicates"]) == (1, 1)


async def test_dedup_key_includes_event_name_and_source(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """The same event_id under another event name or event_source_id is a different event."""
    await post(http, sandbox, body(event("e1", "Purchase"), event("e1", "Lead")))
    await post(http, sandbox, body(event("e1"), source_id="PIX9"))
    counts = sandbox.store.counts()
    assert (counts["accepted"], counts["duplicates"]) == (3, 0)


async def test_dedup_window_expires(http: aiohttp.ClientSession) -> None:
    """After 48 h the same key is accepted again."""
    clock = Clock()
    async with Sandbox(clock=clock) as timed:
        await post(http, timed, body(event("e1")), token="t")
        clock.now += 48 * 3600
        await post(http, timed, body(event("e1")), token="t")
        counts = timed.store.counts()
    assert (counts["accepted"], counts["duplicates"]) == (2, 0)


async def test_events_without_event_id_are_always_accepted(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Without an event_id nothing can be deduplicated."""
    anonymous = {"event": "Purchase", "event_time": 1_700_000_000}
    await post(http, sandbox, body(anonymous, anonymous))
    assert sandbox.store.counts()["accepted"] == 2


async def test_counts_endpoint(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """/_sandbox/counts reports requests by answer code and events per (event_source_id, event)."""
    await post(http, sandbox, body(event("e1"), event("e1")))
    await post(http, sandbox, body(), token="stolen")
    counts = await get(http, sandbox, "/_sandbox/counts")
    assert counts["requests"] == 2
    assert counts["responses"] == {"0": 1, "40105": 1}
    assert counts["by_event"] == [{"event_source_id": "PIX1", "event": "Purchase", "accepted": 1, "duplicates": 1}]
    assert counts["largest_request_bytes"] > 0


async def test_events_endpoint_filters(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """/_sandbox/events returns recorded events with their envelope, filtered by event_id."""
    await post(http, sandbox, body(event("e1"), event("e2"), test_event_code="TEST1"))
    await post(http, sandbox, body(event("e2")))
    found = (await get(http, sandbox, "/_sandbox/events?event_id=e2"))["events"]
    assert [(item["test_event_code"], item["duplicate"]) for item in found] == [("TEST1", False), (None, True)]
    assert found[0]["event"] == event("e2")


async def test_event_ids_endpoint(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """/_sandbox/event_ids lists every unique accepted event_id of an event source (for loss checks)."""
    await post(http, sandbox, body(event("b"), event("a"), event("a", "Lead")))
    assert await get(http, sandbox, "/_sandbox/event_ids?event_source_id=PIX1") == {"event_ids": ["a", "b"]}
    assert await get(http, sandbox, "/_sandbox/event_ids?event_source_id=PIX1&event=Lead") == {"event_ids": ["a"]}


async def test_event_ids_needs_an_event_source(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """The loss check must say which event source it asks about."""
    async with http.get(sandbox.base_url + "/_sandbox/event_ids") as response:
        assert response.status == 400


async def test_script_answers_in_order(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Scripted answers are used one per request, then normal processing resumes."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=50002), ScriptedResponse(code=40100)]))
    codes = [(await post(http, sandbox, body()))["code"] for _ in range(3)]
    assert codes == [50002, 40100, 0]


async def test_one_event_source_can_be_refused(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """event_source_codes answers one pixel's requests with its code (one store's token revoked) and records
    nothing for it; the other pixels are processed normally; clearing the faults fixes the token."""
    sandbox.set_faults(FaultSettings(event_source_codes={"PIX2": 40105}))
    assert (await post(http, sandbox, body(event("e1"), source_id="PIX2")))["code"] == 40105
    assert (await post(http, sandbox, body(event("e2"), source_id="PIX1")))["code"] == 0
    assert sandbox.store.event_ids("PIX2") == []
    sandbox.set_faults(FaultSettings())
    assert (await post(http, sandbox, body(event("e1"), source_id="PIX2")))["code"] == 0


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (40050, "Duplicated request."),
        (40061, "Invalid batch size."),
        (40062, "PII data is not hashed."),
        (40063, "Invalid partner_name."),
        (61000, "Too many requests."),
    ],
)
async def test_newer_codes_answer_tiktoks_message(
    http: aiohttp.ClientSession, sandbox: Sandbox, code: int, message: str
) -> None:
    """Each code of the response table can be injected, with a TikTok-like message."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(code=code)]))
    answer = await post(http, sandbox, body())
    assert (answer["code"], answer["message"]) == (code, message)


@pytest.mark.parametrize(
    "leak",
    [
        {"page": {"url": "https://shop.example/p?email=jane%40example.com"}},
        {"page": {"url": "https://shop.example/p?p=%252B14155550132"}},
        {"properties": {"note": "call (415) 555-0132"}},
        {"properties": {"contact": "jane@example.com"}},
    ],
)
async def test_pii_patterns_in_bodies_are_counted(
    http: aiohttp.ClientSession, sandbox: Sandbox, leak: dict[str, Any]
) -> None:
    """An email or phone pattern anywhere in a body, however encoded, is counted on /_sandbox/counts."""
    await post(http, sandbox, body({**event("clean"), "page": {"url": "https://shop.example/p?ttclid=E.C.P.1"}}))
    assert (await get(http, sandbox, "/_sandbox/counts"))["pii_hits"] == 0
    await post(http, sandbox, body({**event("leaky"), **leak}))
    assert (await get(http, sandbox, "/_sandbox/counts"))["pii_hits"] == 1


async def test_error_rate_injects_body_codes(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """error_rate=1 answers every request with error_code, HTTP 200, and records nothing."""
    sandbox.set_faults(FaultSettings(error_rate=1.0, error_code=51012))
    assert (await post(http, sandbox, body()))["code"] == 51012
    assert sandbox.store.counts()["accepted"] == 0


async def test_http_errors_are_html_pages(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Gateway faults answer a 5xx status with an HTML body, not TikTok's JSON envelope."""
    sandbox.set_faults(FaultSettings(http_error_rate=1.0, http_error_status=502))
    async with http.post(sandbox.track_url, data=orjson.dumps(body()), headers={"Access-Token": "tok"}) as response:
        assert response.status == 502
        assert response.content_type == "text/html"


async def test_partial_success_injection_records_the_events(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """An injected 20001 processes the request normally and answers partial success."""
    sandbox.set_faults(FaultSettings(error_rate=1.0, error_code=20001))
    assert (await post(http, sandbox, body(event("e1"))))["code"] == 20001
    assert sandbox.store.event_ids("PIX1") == ["e1"]


async def test_outage_window_answers_its_fault(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Inside an outage window every request gets the window's answer (here a 40100 storm)."""
    sandbox.set_faults(FaultSettings(outages=[Outage(duration_s=3600, code=40100)]))
    assert [(await post(http, sandbox, body()))["code"] for _ in range(2)] == [40100, 40100]


async def test_outage_window_ends(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Outside the window (here: not started yet) requests are processed normally."""
    sandbox.set_faults(FaultSettings(outages=[Outage(start_s=3600, duration_s=60)]))
    assert (await post(http, sandbox, body()))["code"] == 0


async def test_timeout_injection_hangs_until_the_client_gives_up(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A hanging request never answers in time: the client's timeout fires."""
    sandbox.set_faults(FaultSettings(timeout_rate=1.0, timeout_hang_s=30))
    with pytest.raises(TimeoutError):
        await http.post(sandbox.track_url, data=orjson.dumps(body()), timeout=aiohttp.ClientTimeout(total=0.2))


async def test_scripted_retry_after_header(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A script can send Retry-After (TikTok does not) to exercise clients that honour it."""
    sandbox.set_faults(FaultSettings(script=[ScriptedResponse(http_status=503, retry_after="2")]))
    async with http.post(sandbox.track_url, data=orjson.dumps(body()), headers={"Access-Token": "tok"}) as response:
        assert (response.status, response.headers["Retry-After"]) == (503, "2")


async def test_latency_does_not_serialise_requests(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Simulated latency sleeps per request: concurrent requests overlap instead of queueing."""
    sandbox.set_faults(FaultSettings(latency_ms=200))
    await asyncio.gather(*(post(http, sandbox, body(event(str(i)))) for i in range(8)))
    assert sandbox.store.counts()["peak_in_flight"] == 8


async def test_faults_endpoint_replaces_and_clears(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """PUT /_sandbox/faults applies validated faults; DELETE clears them."""
    async with http.put(sandbox.base_url + "/_sandbox/faults", data=orjson.dumps({"error_rate": 1})) as response:
        assert response.status == 200
    assert (await post(http, sandbox, body()))["code"] == 50000
    async with http.delete(sandbox.base_url + "/_sandbox/faults") as response:
        assert response.status == 200
    assert (await post(http, sandbox, body()))["code"] == 0


async def test_faults_endpoint_rejects_invalid_settings(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A rate above 1 or an unknown key is a 400 naming the field; the current faults stay."""
    async with http.put(sandbox.base_url + "/_sandbox/faults", data=orjson.dumps({"error_rate": 2})) as response:
        assert response.status == 400
        assert "error_rate" in (await response.json())["error"]
    assert (await get(http, sandbox, "/_sandbox/faults"))["error_rate"] == 0


async def test_reset_forgets_everything(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /_sandbox/reset empties the store and clears faults."""
    await post(http, sandbox, body())
    sandbox.set_faults(FaultSettings(error_rate=1.0))
    async with http.post(sandbox.base_url + "/_sandbox/reset") as response:
        assert response.status == 200
    assert sandbox.store.counts()["requests"] == 0
    assert (await post(http, sandbox, body()))["code"] == 0


async def test_health_endpoint(http: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Scripts can wait for the sandbox to be up."""
    assert await get(http, sandbox, "/_sandbox/health") == {"status": "ok"}
