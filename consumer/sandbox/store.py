"""What the sandbox received: deduplicated accepted events, counters, and a ring of recent events to inspect.

Deduplication follows TikTok: the same ``event_source_id`` + ``event`` + ``event_id`` within the window (48 h)
of the first is merged; the repeat counts as a duplicate and is not accepted again. Events without an
``event_id`` cannot be deduplicated and are always accepted. Every unique key is kept (so ``event_ids`` is
exact for verifying that nothing was lost), while only the most recent events are kept whole.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

# event_source_id -> event name -> event_id -> first-seen time (seconds)
_Seen = dict[str, dict[str, dict[str, float]]]


class SandboxStore:
    """In-memory state; all methods are synchronous and cheap (called from request handlers)."""

    def __init__(self, dedup_window_s: float, max_recorded_events: int) -> None:
        self._window = dedup_window_s
        self._max_recorded = max_recorded_events
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self._seen: _Seen = {}
        self._recent: deque[tuple[float, str, str, str | None, bool, dict[str, Any]]] = deque(maxlen=self._max_recorded)
        self._accepted: Counter[tuple[str, str]] = Counter()
        self._duplicates: Counter[tuple[str, str]] = Counter()
        self._responses: Counter[str] = Counter()
        self._requests = 0
        self._test_events = 0
        self._bytes_received = 0
        self._largest_body = 0
        self._pii_hits = 0
        self._in_flight = 0
        self._peak_in_flight = 0

    def request_started(self) -> None:
        """A track request arrived (before any simulated latency): tracks the peak concurrency seen."""
        self._in_flight += 1
        self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def request_finished(self) -> None:
        self._in_flight -= 1

    def note_body(self, size: int) -> None:
        """A request body of ``size`` bytes was read."""
        self._bytes_received += size
        self._largest_body = max(self._largest_body, size)

    def note_pii_hits(self, hits: int) -> None:
        """A request body showed ``hits`` email addresses or phone numbers (``consumer.sandbox.pii``)."""
        self._pii_hits += hits

    def count_response(self, http_status: int, code: int | None) -> None:
        """Count one answered request: ``"0"``, ``"40002"``..., or ``"http_503"`` for a non-200 answer."""
        self._requests += 1
        self._responses[str(code) if http_status == 200 and code is not None else f"http_{http_status}"] += 1

    def record(
        self,
        event_source: str,
        event_source_id: str,
        test_event_code: str | None,
        data: list[dict[str, Any]],
        now: float,
    ) -> None:
        """Record the events of an accepted request, deduplicating by (event_source_id, event, event_id)."""
        by_event = self._seen.setdefault(event_source_id, {})
        window = self._window
        keep = self._max_recorded > 0
        append = self._recent.append
        accepted: Counter[str] = Counter()
        duplicates: Counter[str] = Counter()
        for event in data:
            name = event["event"]
            event_id = event.get("event_id")
            duplicate = False
            if event_id is not None:
                seen = by_event.get(name)
                if seen is None:
                    seen = by_event[name] = {}
                first = seen.get(event_id)
                if first is None or now - first >= window:
                    seen[event_id] = now
                else:
                    duplicate = True
            if duplicate:
                duplicates[name] += 1
            else:
                accepted[name] += 1
            if keep:
                append((now, event_source, event_source_id, test_event_code, duplicate, event))
        for name, count in accepted.items():
            self._accepted[(event_source_id, name)] += count
        for name, count in duplicates.items():
            self._duplicates[(event_source_id, name)] += count
        if test_event_code is not None:
            self._test_events += len(data)

    def counts(self) -> dict[str, Any]:
        """Totals and per (event_source_id, event) accepted/duplicate counts."""
        keys = sorted(set(self._accepted) | set(self._duplicates))
        return {
            "requests": self._requests,
            "responses": dict(sorted(self._responses.items())),
            "accepted": sum(self._accepted.values()),
            "duplicates": sum(self._duplicates.values()),
            "test_events": self._test_events,
            "bytes_received": self._bytes_received,
            "largest_request_bytes": self._largest_body,
            "pii_hits": self._pii_hits,
            "peak_in_flight": self._peak_in_flight,
            "by_event": [
                {
                    "event_source_id": source_id,
                    "event": name,
                    "accepted": self._accepted[(source_id, name)],
                    "duplicates": self._duplicates[(source_id, name)],
                }
                for source_id, name in keys
            ],
        }

    def events(
        self,
        event_source_id: str | None = None,
        event: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """The most recent recorded events matching the filters, oldest first, at most ``limit``."""
        found: list[dict[str, Any]] = []
        for received_at, source, source_id, test_code, duplicate, body in reversed(self._recent):
            if len(found) >= limit:
                break
            if event_source_id is not None and source_id != event_source_id:
                continue
            if event is not None and body.get("event") != event:
                continue
            if event_id is not None and body.get("event_id") != event_id:
                continue
            found.append(
                {
                    "received_at": received_at,
                    "event_source": source,
                    "event_source_id": source_id,
                    "test_event_code": test_code,
                    "duplicate": duplicate,
                    "event": body,
                }
            )
        found.reverse()
        return found

    def event_ids(self, event_source_id: str, event: str | None = None) -> list[str]:
        """Every unique event_id accepted for ``event_source_id`` (and ``event``), sorted."""
        by_event = self._seen.get(event_source_id, {})
        names = [event] if event is not None else list(by_event)
        return sorted({event_id for name in names for event_id in by_event.get(name, {})})
