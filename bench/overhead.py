"""The service's overhead above the floor, in process: the pipeline, the sender and settlement moving already
translated events from ``Pipeline.process`` to settled offsets, with TikTok answering at once in process (no
Kafka, no HTTP, no decode or mapping). Prints CPU microseconds per event; ``--profile`` adds a cProfile table;
``--instructions N`` counts instructions per event under valgrind's callgrind instead (passes over N and then 2N
events: their difference divided by N cancels what a pass costs whatever its length), a figure that a busy machine
does not change.

    .venv/bin/python -m bench.overhead [--events 200000] [--profile]
    .venv/bin/python -m bench.overhead --instructions 2000

The events are the benchmark's workload (every customer distinct) mapped by the example config's routes, once,
before the timed loop; each timed turn hands the pipeline a consumed batch (``kafka.consume_batch``), lets the event
loop run, and stores the settled positions, with back-pressure at ``kafka.max_unsettled`` as the poll loop does
(the batch is handed over in slices, ``Pipeline.process_in_slices``, as the poll loop does too).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.instructions import MARKER, pass_counts
from bench.stack import EXAMPLE_CONFIG
from bench.workload import MIX, TOPICS, make_record
from consumer.config import load_config
from consumer.mapping.translator import Translator
from consumer.model import (
    ConsentWithheld,
    DomainRecord,
    Failure,
    OutboundEvent,
    Skipped,
    SourceMessage,
    SourceRef,
)
from consumer.pipeline import Pipeline
from consumer.sending.client import TikTokClient, TrackResponse
from consumer.sending.sender import Sender
from consumer.sending.tokens import TokenStore
from consumer.settlement.ledger import Ledger

PARTITIONS = 4
ACCEPTED = TrackResponse(200, 0, "OK", "bench-request")


def outbound_events(count: int, now: datetime) -> list[OutboundEvent]:
    """``count`` translated events of the benchmark's workload (consent-denied ones are left out)."""
    os.environ.setdefault("RELAY_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9")
    translator = Translator(load_config(EXAMPLE_CONFIG).translation)
    rng = random.Random(7)
    topics, weights = list(MIX), list(MIX.values())
    now_ms = int(now.timestamp() * 1000)
    events: list[OutboundEvent] = []
    n = 0
    while len(events) < count:
        topic = rng.choices(topics, weights)[0]
        record = make_record(topic, n, now, rng)
        ref = SourceRef(topic, n % PARTITIONS, n // PARTITIONS)
        result = translator.translate(DomainRecord(TOPICS[topic], record), ref, now_ms)
        if isinstance(result, OutboundEvent):
            events.append(result)
        n += 1
    return events


class Prepared:
    """Decoder and translator in one: each message's translation was made before the timed loop."""

    def __init__(self, events: Sequence[OutboundEvent]) -> None:
        self._by_ref = {event.ref: event for event in events}

    def decode(self, message: SourceMessage) -> DomainRecord:
        del message
        return DomainRecord("prepared", {})

    def translate(self, record: DomainRecord, ref: SourceRef, now_ms: int) -> OutboundEvent | ConsentWithheld | Skipped:
        del record, now_ms
        return self._by_ref[ref]


class NoPublisher:
    def dead_letter(self, message: SourceMessage, failure: Failure) -> asyncio.Future[None]:
        del message
        raise AssertionError(f"nothing is dead-lettered in this probe: {failure}")

    def audit(self, withheld: ConsentWithheld) -> asyncio.Future[None]:
        del withheld
        raise AssertionError("nothing is withheld in this probe")


async def accept(self: TikTokClient, body: bytes, token: str) -> TrackResponse:
    del self, body, token
    return ACCEPTED


async def run(events: Sequence[OutboundEvent], profile: cProfile.Profile | None) -> tuple[float, float]:
    """CPU and wall seconds from the first ``process`` to the last settle."""
    config = load_config(EXAMPLE_CONFIG)
    TikTokClient.track = accept  # type: ignore[method-assign,assignment]
    sender = Sender(config.tiktok, TokenStore.from_env({"TIKTOK_ACCESS_TOKEN": "probe"}))
    await sender.start()
    prepared = Prepared(events)
    ledger = Ledger()
    pipeline = Pipeline(prepared, prepared, sender, NoPublisher(), ledger)
    ledger.assign({(event.ref.topic, event.ref.partition) for event in events})
    messages = [SourceMessage(event.ref, None, b"") for event in events]
    batch, bound = config.kafka.consume_batch, config.kafka.max_unsettled
    if profile is not None:
        profile.enable()
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(messages), batch):
        while ledger.unsettled > bound:
            await asyncio.sleep(0)
        await pipeline.process_in_slices(messages[start : start + batch])
        pipeline.flush_metrics()
        ledger.take_positions()
        await asyncio.sleep(0)
    await sender.flush()
    while ledger.unsettled:
        await asyncio.sleep(0)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profile is not None:
        profile.disable()
    pipeline.flush_metrics()
    await sender.close()
    return cpu, wall


def count_instructions(per_pass: int) -> float:
    """Instructions per event: this probe's passes over N and 2N events in a child under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--dump-before={MARKER}",
            "--dump-line=no",
            f"--callgrind-out-file={Path(tmp) / 'callgrind.out'}",
            sys.executable,
            "-m",
            "bench.overhead",
            "--passes",
            str(per_pass),
        ]
        subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, check=True, capture_output=True)
        counts = pass_counts(Path(tmp))
    if len(counts) != 3:
        raise RuntimeError(f"callgrind wrote {len(counts)} marker dumps, expected 3 (set-up, N pass, 2N pass)")
    return (counts[2] - counts[1]) / per_pass


def passes(per_pass: int) -> None:
    """The child under callgrind: a marker call (``os.getloadavg``) ends the set-up, the N pass and the 2N pass."""
    events = outbound_events(3 * per_pass, datetime(2025, 6, 1, tzinfo=UTC))
    os.getloadavg()
    asyncio.run(run(events[:per_pass], None))
    os.getloadavg()
    asyncio.run(run(events[per_pass:], None))
    os.getloadavg()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions by own time (cProfile)")
    parser.add_argument("--instructions", type=int, metavar="N", help="count instructions per event (callgrind)")
    parser.add_argument("--passes", type=int, help=argparse.SUPPRESS)  # the child of --instructions
    args = parser.parse_args()
    if args.passes:
        passes(args.passes)
        return
    if args.instructions:
        per_event = count_instructions(args.instructions)
        print(
            f"overhead: instructions_per_event={per_event:,.0f} (callgrind, passes of {args.instructions:,} and "
            f"{2 * args.instructions:,} events)"
        )
        return
    events = outbound_events(args.events, datetime.now(UTC))
    profile = cProfile.Profile() if args.profile else None
    cpu, wall = asyncio.run(run(events, profile))
    print(
        f"overhead: events={len(events)} cpu_us_per_event={cpu / len(events) * 1e6:.2f} "
        f"wall_us_per_event={wall / len(events) * 1e6:.2f} (process CPU from the first process() to the last settle)"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
