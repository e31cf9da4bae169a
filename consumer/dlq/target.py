"""Where replayed records go: ``to_source`` (back to their topic, for the service) or ``to_tiktok`` (sent from here)."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Protocol

from consumer.dlq.original import OriginalEvent
from consumer.dlq.report import RecordReport
from consumer.dlq.selection import DeadLetterEntry

CLOSE_TIMEOUT_S = 10.0


class ReplayTarget(Protocol):
    """Where replayed records go. ``submit`` starts one record on its way; ``settle`` waits for the outcomes of
    everything submitted since the last call (raising ``ReplayError`` when a record could not be made durable)."""

    async def start(self) -> None: ...

    def preview(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> RecordReport: ...

    def submit(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> Awaitable[RecordReport]: ...

    async def settle(self, outcomes: Sequence[Awaitable[RecordReport]]) -> list[RecordReport]: ...

    async def close(self) -> None: ...
