"""`make bench`: the benchmark suite, in one run on this machine, with the references beside the service.

    python -m bench.run                  # the full suite (200,000 events; BENCHMARKS.md)
    python -m bench.run --smoke          # a small version, for CI (its figures mean nothing)
    python -m bench.run --profile        # also sample the service with py-spy during the drains

1. Preload N realistic reference events (``bench.workload``) on the real broker, Confluent-framed with ids from the
   registry double.
2. The CPU floor (``bench.floor``): decode + map/policy/hash + encode in a tight loop, in this process; and the
   same loop's instructions per event under callgrind (``bench.instructions``), which do not depend on the machine.
3. Drain at loopback: start ``tiktok-relay run`` against the sandbox and time the drain of the backlog; the
   service process's CPU per event and peak RSS, the request count and mean batch size.
4. The per-event reference (``bench.per_event``) on the same events, at loopback.
5. The same two with the sandbox simulating a 50 ms round trip to TikTok.
6. The overload run: the backlog is 10x the service's in-flight bound (``kafka.max_unsettled``) and TikTok is
   down (503) for the first seconds, so the service fills its bound and pauses; peak RSS shows whether memory
   stays bounded, and the drain completes once TikTok is back.
7. Latency from produce to sandbox receipt, per event, at a steady moderate rate (loopback).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from bench.floor import FloorResult, measure_floor, messages_of, translate_all
from bench.harness import (
    Figure,
    GaugeWatcher,
    ProcMonitor,
    machine_cpu_seconds,
    machine_description,
    percentile,
    render_section,
)
from bench.instructions import DEFAULT_EVENTS, MISSING, WARM_UP_EVENTS, InstructionCount, measure_instructions
from bench.per_event import PerEventResult, post_each
from bench.profile import py_spy_record, summarise
from bench.stack import ACCESS_TOKEN, Rig, ServiceProcess, rig
from bench.workload import PARTITIONS, TOPICS, Event, generate, new_producer, produce, produce_at_rate
from bench.workload import registry_encoder as make_encoder
from consumer.config import parse_config
from consumer.demo import create_topics
from consumer.model import OutboundEvent
from consumer.observability.logging import configure_logging
from consumer.sending.body import RequestEncoder, encode_event
from tools.kafka_broker import REPO

MiB = 2**20
UNSETTLED = "tiktok_relay_unsettled_messages"
PAUSED = "tiktok_relay_paused_partitions"
WORK_DIR = REPO / ".cache" / "bench"
DRAIN_TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True)
class Drain:
    """One drain of a preloaded backlog by one service process."""

    events: int
    elapsed_s: float
    cpu_s: float
    peak_rss_bytes: int
    requests: int
    delivered: int
    sandbox_cpu_s: float
    broker_cpu_s: float
    machine_busy: float
    max_unsettled: int
    max_paused_partitions: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6

    @property
    def mean_batch(self) -> float:
        return self.delivered / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class Latency:
    rate_per_s: float
    events: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes of one suite run."""

    events: int
    floor_events: int
    per_event_loopback: int
    per_event_rtt: int
    latency_rate: float
    latency_s: float
    rtt_ms: float
    outage_s: float
    instruction_events: int


FULL = Plan(200_000, 50_000, 20_000, 200, 2_000.0, 10.0, 50.0, 20.0, DEFAULT_EVENTS)
SMOKE = Plan(5_000, 5_000, 1_000, 20, 500.0, 3.0, 50.0, 3.0, 100)


def drain(service: ServiceProcess, rig_: Rig, events: int, expected_delivered: int, profile: Path | None) -> Drain:
    """Start ``service`` on a preloaded backlog and time it from ready until the sandbox has every event; with
    ``profile``, py-spy samples the service meanwhile (the figures of such a run are not for the record)."""
    before = rig_.sandbox.counts()
    service.start()
    service.wait_ready()
    assert service.monitor is not None and rig_.broker.process is not None
    neighbours = [ProcMonitor(rig_.sandbox.process.pid), ProcMonitor(rig_.broker.process.pid)]
    cpu_start = [monitor.sample().cpu_s for monitor in [service.monitor, *neighbours]]
    watcher = GaugeWatcher(f"http://127.0.0.1:{service.http_port}/metrics", (UNSETTLED, PAUSED)).start()
    machine_start = machine_cpu_seconds()
    started = time.perf_counter()
    with py_spy_record(service.pid, profile) if profile else nullcontext():
        _wait_delivered(rig_, before["accepted"] + expected_delivered, service)
    elapsed = time.perf_counter() - started
    gauges = watcher.stop()
    machine_end = machine_cpu_seconds()
    service_cpu, sandbox_cpu, broker_cpu = (
        monitor.sample().cpu_s - start for monitor, start in zip([service.monitor, *neighbours], cpu_start, strict=True)
    )
    after = rig_.sandbox.counts()
    return Drain(
        events=events,
        elapsed_s=elapsed,
        cpu_s=service_cpu,
        peak_rss_bytes=service.monitor.sample().peak_rss_bytes,
        requests=after["requests"] - before["requests"],
        delivered=after["accepted"] - before["accepted"],
        sandbox_cpu_s=sandbox_cpu,
        broker_cpu_s=broker_cpu,
        machine_busy=(machine_end[0] - machine_start[0]) / (machine_end[1] - machine_start[1]),
        max_unsettled=int(gauges.get(UNSETTLED, 0)),
        max_paused_partitions=int(gauges.get(PAUSED, 0)),
    )


def _wait_delivered(rig_: Rig, accepted: int, service: ServiceProcess) -> None:
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    while rig_.sandbox.accepted() < accepted:
        if time.perf_counter() > deadline or not service.running:
            raise RuntimeError(f"drain incomplete; see {service.log_path}")
        time.sleep(0.02)


def latency(rig_: Rig, events: Sequence[Event], rate_per_s: float) -> Latency:
    """Produce ``events`` at a steady rate to a running service; produce -> sandbox receipt, per event."""
    expected = sum(1 for event in events if not event.denied)
    before = rig_.sandbox.accepted()
    sent_at = produce_at_rate(new_producer(rig_.bootstrap_servers), iter(events), rate_per_s)
    deadline = time.monotonic() + 120
    while rig_.sandbox.accepted() - before < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    received = rig_.sandbox.received_at(expected)
    delays = [(received[i] - sent) * 1000 for i, sent in sent_at.items() if i in received]
    return Latency(rate_per_s, len(delays), percentile(delays, 0.5), percentile(delays, 0.99))


def single_event_bodies(config: dict[str, Any], events: Sequence[Event], now_ms: int) -> list[bytes]:
    """One request body per sendable event, encoded exactly as the service encodes its events."""
    relay_config = parse_config(config)
    encoder = RequestEncoder(relay_config.tiktok.test_event_code, relay_config.tiktok.partner_name)
    return [
        encoder.build(result.destination, (result.ref,), [encode_event(result.event)]).body
        for result in translate_all(relay_config, messages_of(events), now_ms)
        if isinstance(result, OutboundEvent)
    ]


@dataclass
class Suite:
    """The figures of one run, for printing and for the JSON record."""

    machine: dict[str, str]
    plan: Plan
    floor: FloorResult | None = None
    instructions: InstructionCount | None = None
    loopback: Drain | None = None
    steady: Latency | None = None
    per_event_loopback: PerEventResult | None = None
    rtt: Drain | None = None
    per_event_rtt: PerEventResult | None = None
    overload: Drain | None = None
    overload_bound: int = 0
    pii_hits: int = 0  # emails and phones the sandbox saw in request bodies: must stay 0

    def report(self) -> str:
        assert self.floor and self.loopback and self.steady and self.per_event_loopback
        assert self.rtt and self.per_event_rtt and self.overload
        sections = [
            render_section("machine", [Figure(k, v) for k, v in self.machine.items()]),
            render_section(
                f"CPU floor: decode + map/policy/hash + encode, no I/O ({self.floor.events:,} events)",
                [Figure("CPU per event", self.floor.cpu_us_per_event, "us")],
            ),
            self.instructions.section() if self.instructions else MISSING,
            _drain_section(f"service drain at loopback ({self.loopback.events:,} events preloaded)", self.loopback),
            render_section(
                f"latency produce -> sandbox receipt at {self.steady.rate_per_s:,.0f} events/s "
                f"({self.steady.events:,} events)",
                [Figure("p50", self.steady.p50_ms, "ms"), Figure("p99", self.steady.p99_ms, "ms")],
            ),
            _per_event_section("per-event reference at loopback", self.per_event_loopback),
            _drain_section(
                f"service drain at {self.plan.rtt_ms:.0f} ms round trip ({self.rtt.events:,} events preloaded)",
                self.rtt,
            ),
            _per_event_section(f"per-event reference at {self.plan.rtt_ms:.0f} ms round trip", self.per_event_rtt),
            _drain_section(
                f"overload run: backlog {self.overload.events:,} = 10x kafka.max_unsettled {self.overload_bound:,}, "
                f"TikTok down (503) for the first {self.plan.outage_s:.0f} s, then {self.plan.rtt_ms:.0f} ms RTT",
                self.overload,
            ),
            render_section(
                "ratios",
                [
                    Figure(
                        "service / per-event, loopback",
                        self.loopback.events_per_s / self.per_event_loopback.events_per_s,
                        "x",
                    ),
                    Figure(
                        f"service / per-event, {self.plan.rtt_ms:.0f} ms RTT",
                        self.rtt.events_per_s / self.per_event_rtt.events_per_s,
                        "x",
                    ),
                    Figure(
                        "service CPU per event / floor",
                        self.loopback.cpu_us_per_event / self.floor.cpu_us_per_event,
                        "x",
                    ),
                ],
            ),
        ]
        return "\n\n".join(sections)


def _drain_section(title: str, result: Drain) -> str:
    return render_section(
        title,
        [
            Figure("throughput", result.events_per_s, "events/s"),
            Figure("drain time", result.elapsed_s, "s"),
            Figure("service CPU per event", result.cpu_us_per_event, "us"),
            Figure("service CPU use", result.cpu_s / result.elapsed_s * 100, "% of one core"),
            Figure("sandbox CPU use (beside it)", result.sandbox_cpu_s / result.elapsed_s * 100, "% of one core"),
            Figure("broker CPU use (beside it)", result.broker_cpu_s / result.elapsed_s * 100, "% of one core"),
            Figure("whole machine busy", result.machine_busy * 100, "% of all cores"),
            Figure("service peak RSS", result.peak_rss_bytes / MiB, "MiB"),
            Figure("max unsettled in the service", result.max_unsettled, "messages"),
            Figure("max partitions paused (back-pressure)", result.max_paused_partitions),
            Figure("requests to TikTok", result.requests),
            Figure("mean batch size (delivered / requests)", result.mean_batch, "events"),
        ],
    )


def _per_event_section(title: str, result: PerEventResult) -> str:
    return render_section(
        title,
        [
            Figure("throughput", result.events_per_s, "events/s"),
            Figure("events sent", result.sent),
            Figure("accepted", result.accepted),
        ],
    )


def run(plan: Plan, root: Path, profile: bool) -> Suite:
    """The whole suite on one rig; every drain reads the same preloaded backlog under its own consumer group."""
    suite = Suite(machine_description(), plan)
    recorded = str(int(plan.latency_rate * plan.latency_s) + 1000)
    with rig(root, "--rate-limit", "0", "--max-recorded-events", recorded) as r:
        create_topics(r.bootstrap_servers, list(TOPICS), PARTITIONS)
        encoder = make_encoder(r.register)
        print(f"preloading {plan.events:,} events ...", flush=True)
        events = list(generate(plan.events, encoder))
        produce(new_producer(r.bootstrap_servers), iter(events))
        sendable = sum(1 for event in events if not event.denied)
        now_ms = int(time.time() * 1000)

        loopback_service = r.service("bench-loopback")
        config = yaml.safe_load(loopback_service.config_path.read_text())
        print("CPU floor ...", flush=True)
        suite.floor = measure_floor(parse_config(config), messages_of(events[: plan.floor_events]), now_ms)
        print("CPU floor in instructions (callgrind) ...", flush=True)
        suite.instructions = measure_instructions(config, events, now_ms, plan.instruction_events)

        print("drain at loopback ...", flush=True)
        suite.loopback = drain(loopback_service, r, plan.events, sendable, _profile_path(root, "loopback", profile))
        loopback_service.stop()
        bodies = single_event_bodies(config, events[: plan.per_event_loopback], now_ms)
        print("per-event reference at loopback ...", flush=True)
        suite.per_event_loopback = post_each(r.sandbox.track_url, ACCESS_TOKEN, bodies)

        suite.pii_hits += int(r.sandbox.counts()["pii_hits"])  # every reset below forgets the sandbox's counts
        r.sandbox.reset()
        r.sandbox.set_faults(latency_ms=plan.rtt_ms)
        print(f"drain at {plan.rtt_ms:.0f} ms round trip ...", flush=True)
        rtt_service = r.service("bench-rtt")
        suite.rtt = drain(rtt_service, r, plan.events, sendable, _profile_path(root, "rtt", profile))
        rtt_service.stop()
        print(f"per-event reference at {plan.rtt_ms:.0f} ms round trip ...", flush=True)
        suite.per_event_rtt = post_each(r.sandbox.track_url, ACCESS_TOKEN, bodies[: plan.per_event_rtt])

        suite.pii_hits += int(r.sandbox.counts()["pii_hits"])
        r.sandbox.reset()
        suite.overload_bound = plan.events // 10
        print("overload run ...", flush=True)
        overload_service = r.service("bench-overload", {"kafka": {"max_unsettled": suite.overload_bound}})
        r.sandbox.set_faults(
            latency_ms=plan.rtt_ms, outages=[{"start_s": 0, "duration_s": plan.outage_s, "http_status": 503}]
        )
        suite.overload = drain(overload_service, r, plan.events, sendable, None)
        overload_service.stop()

        suite.pii_hits += int(r.sandbox.counts()["pii_hits"])
        r.sandbox.reset()
        print("steady-rate latency at loopback ...", flush=True)
        steady_service = r.service("bench-loopback").start()  # the loopback group: it resumes after the backlog
        steady_service.wait_ready()
        steady_events = list(generate(int(plan.latency_rate * plan.latency_s), encoder, start=plan.events))
        suite.steady = latency(r, steady_events, plan.latency_rate)
        steady_service.stop()
        suite.pii_hits += int(r.sandbox.counts()["pii_hits"])
    return suite


def _profile_path(root: Path, name: str, profile: bool) -> Path | None:
    return root / f"profile-{name}.txt" if profile else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes (CI): figures are not representative")
    parser.add_argument(
        "--events", type=int, help=f"events preloaded (default {FULL.events:,}; smoke {SMOKE.events:,})"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument(
        "--profile", action="store_true", help="sample the service with py-spy during each drain and print where"
    )
    args = parser.parse_args(argv)
    configure_logging("console", "warning")  # the floor runs the service's code in this process: keep it quiet
    plan = SMOKE if args.smoke else FULL
    if args.events:
        plan = replace(
            plan,
            events=args.events,
            floor_events=min(args.events, plan.floor_events),
            per_event_loopback=min(args.events, plan.per_event_loopback),
            instruction_events=min(plan.instruction_events, max(1, (args.events - WARM_UP_EVENTS) // 3)),
        )
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench-", dir=WORK_DIR))
    print(f"logs and configs of this run: {root}", flush=True)
    suite = run(plan, root, args.profile)
    print()
    print(suite.report())
    print(f"\nPII-pattern hits in request bodies (sandbox): {suite.pii_hits}", flush=True)
    for name in ("loopback", "rtt") if args.profile else ():
        with (root / f"profile-{name}.txt").open() as collapsed:
            print(f"\n[{name}] " + summarise(collapsed).render())
    if args.json:
        args.json.write_text(json.dumps(asdict(suite), indent=2, default=str))
    return 1 if suite.pii_hits else 0


if __name__ == "__main__":
    sys.exit(main())
