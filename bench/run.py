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
5. Scale-out: two members of one consumer group drain the same backlog; throughput and the CPU each used.
6. The drain and the reference with the sandbox simulating a 50 ms round trip to TikTok.
7. The overload run: the backlog is 10x the service's in-flight bound (``kafka.max_unsettled``) and TikTok is
   down (503) for the first seconds, so the service fills its bound and pauses; peak RSS shows whether memory
   stays bounded, RSS against the unsettled count while it fills gives the memory per unsettled message, and the
   drain completes once TikTok is back.
8. Latency from produce to sandbox receipt, per event, at steady rates (loopback), beside the service's consume
   delay and request time: how much of it is queueing in Kafka and how much is spent in the service.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bench.floor import FloorResult, measure_floor, messages_of, translate_all
from bench.harness import (
    Figure,
    GaugeWatcher,
    ProcMonitor,
    bucket_quantile,
    bytes_per_unit,
    histogram_buckets,
    machine_cpu_seconds,
    machine_description,
    percentile,
    render_section,
)
from bench.instructions import DEFAULT_EVENTS, MISSING, WARM_UP_EVENTS, InstructionCount, measure_instructions
from bench.per_event import PerEventResult, post_each
from bench.profile import py_spy_record, summarise
from bench.stack import ACCESS_TOKEN, READY_TIMEOUT_S, Rig, ServiceProcess, rig
from bench.workload import PARTITIONS, TOPICS, Encoder, Event, generate, new_producer, produce, produce_at_rate
from bench.workload import registry_encoder as make_encoder
from consumer.config import parse_config
from consumer.demo.run import create_topics
from consumer.model import OutboundEvent
from consumer.observability.logging import configure_logging
from consumer.sending.body import RequestEncoder, encode_event
from tools.kafka_broker import REPO

MiB = 2**20
UNSETTLED = "tiktok_relay_unsettled_messages"
PAUSED = "tiktok_relay_paused_partitions"
CONSUME_DELAY = "tiktok_relay_consume_delay_seconds"
REQUEST_SECONDS = "tiktok_relay_request_seconds"
WORK_DIR = REPO / ".cache" / "bench"
DRAIN_TIMEOUT_S = 900.0


@dataclass(frozen=True, slots=True)
class Drain:
    """One drain of a preloaded backlog by one or more service processes (members of one consumer group)."""

    events: int
    elapsed_s: float
    member_cpu_s: tuple[float, ...]
    peak_rss_bytes: int
    requests: int
    delivered: int
    sandbox_cpu_s: float
    broker_cpu_s: float
    machine_busy: float
    max_unsettled: int
    max_paused_partitions: int
    bytes_per_unsettled: float | None

    @property
    def cpu_s(self) -> float:
        return sum(self.member_cpu_s)

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
    """Produce -> sandbox receipt at a steady rate, and the service's own view of the same minutes: how far behind
    the producer it consumed (its consume-delay histogram) and how long its requests took."""

    rate_per_s: float
    events: int
    p50_ms: float
    p99_ms: float
    consume_delay_p50_ms: float
    consume_delay_p99_ms: float
    request_p50_ms: float
    request_p99_ms: float
    service_cpu_share: float
    sandbox_cpu_share: float


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes of one suite run."""

    events: int
    floor_events: int
    per_event_loopback: int
    per_event_rtt: int
    latency_rates: tuple[float, ...]
    latency_s: float
    rtt_ms: float
    outage_s: float
    instruction_events: int


FULL = Plan(200_000, 50_000, 20_000, 200, (2_000.0, 1_000.0), 10.0, 50.0, 20.0, DEFAULT_EVENTS)
SMOKE = Plan(5_000, 5_000, 1_000, 20, (500.0,), 3.0, 50.0, 3.0, 100)


def drain(
    services: Sequence[ServiceProcess],
    rig_: Rig,
    events: int,
    expected_delivered: int,
    profile: Path | None = None,
    *,
    per_unsettled: bool = False,
) -> Drain:
    """Start ``services`` (one consumer group) on a preloaded backlog and time them from the first one ready until
    the sandbox has every event (the other members' start and the rebalance it causes are inside the clock); with
    ``profile``, py-spy samples the first service meanwhile (the figures of such a run are not for the record);
    with ``per_unsettled``, the first service's RSS is traced against its unsettled count (``bytes_per_unit``)."""
    before = rig_.sandbox.counts()
    for service in services:
        service.start()
    _wait_first_ready(services)
    monitors = [service.monitor for service in services]
    assert all(monitors) and rig_.broker.process is not None
    neighbours = [ProcMonitor(rig_.sandbox.process.pid), ProcMonitor(rig_.broker.process.pid)]
    every = [*(m for m in monitors if m is not None), *neighbours]
    cpu_start = [monitor.sample().cpu_s for monitor in every]
    watchers = [
        GaugeWatcher(f"http://127.0.0.1:{s.http_port}/metrics", (UNSETTLED, PAUSED), pid=s.pid).start()
        for s in services
    ]
    machine_start = machine_cpu_seconds()
    started = time.perf_counter()
    with py_spy_record(services[0].pid, profile) if profile else nullcontext():
        for service in services:
            service.wait_ready()
        _wait_delivered(rig_, before["accepted"] + expected_delivered, services)
    elapsed = time.perf_counter() - started
    maxima = [watcher.stop() for watcher in watchers]
    machine_end = machine_cpu_seconds()
    used = [monitor.sample().cpu_s - start for monitor, start in zip(every, cpu_start, strict=True)]
    after = rig_.sandbox.counts()
    return Drain(
        events=events,
        elapsed_s=elapsed,
        member_cpu_s=tuple(used[: len(services)]),
        peak_rss_bytes=max(s.monitor.sample().peak_rss_bytes for s in services if s.monitor is not None),
        requests=after["requests"] - before["requests"],
        delivered=after["accepted"] - before["accepted"],
        sandbox_cpu_s=used[-2],
        broker_cpu_s=used[-1],
        machine_busy=(machine_end[0] - machine_start[0]) / (machine_end[1] - machine_start[1]),
        max_unsettled=int(max(m.get(UNSETTLED, 0) for m in maxima)),
        max_paused_partitions=int(max(m.get(PAUSED, 0) for m in maxima)),
        bytes_per_unsettled=bytes_per_unit(watchers[0].trace) if per_unsettled else None,
    )


def _wait_first_ready(services: Sequence[ServiceProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not any(service.ready() for service in services):
        if time.monotonic() > deadline or not all(service.running for service in services):
            raise RuntimeError(f"no service ready; see {services[0].log_path}")
        time.sleep(0.05)


def _wait_delivered(rig_: Rig, accepted: int, services: Sequence[ServiceProcess]) -> None:
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    while rig_.sandbox.accepted() < accepted:
        if time.perf_counter() > deadline or not all(service.running for service in services):
            raise RuntimeError(f"drain incomplete; see {services[0].log_path}")
        time.sleep(0.02)


def latency(rig_: Rig, service: ServiceProcess, events: Sequence[Event], rate_per_s: float) -> Latency:
    """Produce ``events`` at a steady rate to a running service; produce -> sandbox receipt, per event, beside the
    service's consume delay and request time over the same run (from its histograms) and the CPU it used."""
    expected = sum(1 for event in events if not event.denied)
    before = rig_.sandbox.accepted()
    metrics_url = f"http://127.0.0.1:{service.http_port}/metrics"
    histograms_before = _histograms(metrics_url)
    assert service.monitor is not None
    sandbox = ProcMonitor(rig_.sandbox.process.pid)
    cpu_before = (service.monitor.sample().cpu_s, sandbox.sample().cpu_s)
    started = time.perf_counter()
    sent_at = produce_at_rate(new_producer(rig_.bootstrap_servers), iter(events), rate_per_s)
    deadline = time.monotonic() + 120
    while rig_.sandbox.accepted() - before < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    cpu_after = (service.monitor.sample().cpu_s, sandbox.sample().cpu_s)
    histograms_after = _histograms(metrics_url)
    received = rig_.sandbox.received_at(expected)
    delays = [(received[i] - sent) * 1000 for i, sent in sent_at.items() if i in received]

    def quantile_ms(name: str, q: float) -> float:
        return bucket_quantile(histograms_before[name], histograms_after[name], q) * 1000

    return Latency(
        rate_per_s,
        len(delays),
        percentile(delays, 0.5),
        percentile(delays, 0.99),
        consume_delay_p50_ms=quantile_ms(CONSUME_DELAY, 0.5),
        consume_delay_p99_ms=quantile_ms(CONSUME_DELAY, 0.99),
        request_p50_ms=quantile_ms(REQUEST_SECONDS, 0.5),
        request_p99_ms=quantile_ms(REQUEST_SECONDS, 0.99),
        service_cpu_share=(cpu_after[0] - cpu_before[0]) / elapsed,
        sandbox_cpu_share=(cpu_after[1] - cpu_before[1]) / elapsed,
    )


def _histograms(metrics_url: str) -> dict[str, list[tuple[float, float]]]:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:  # noqa: S310 - our own loopback URL
        text = response.read().decode()
    return {name: histogram_buckets(text, name) for name in (CONSUME_DELAY, REQUEST_SECONDS)}


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
    two_members: Drain | None = None
    steady: list[Latency] = field(default_factory=list)
    per_event_loopback: PerEventResult | None = None
    rtt: Drain | None = None
    per_event_rtt: PerEventResult | None = None
    overload: Drain | None = None
    overload_bound: int = 0
    pii_hits: int = 0  # emails and phones the sandbox saw in request bodies: must stay 0

    def report(self) -> str:
        assert self.floor and self.loopback and self.two_members and self.steady and self.per_event_loopback
        assert self.rtt and self.per_event_rtt and self.overload
        sections = [
            render_section("machine", [Figure(k, v) for k, v in self.machine.items()]),
            render_section(
                f"CPU floor: decode + map/policy/hash + encode, no I/O ({self.floor.events:,} events)",
                [Figure("CPU per event", self.floor.cpu_us_per_event, "us")],
            ),
            self.instructions.section() if self.instructions else MISSING,
            _drain_section(f"service drain at loopback ({self.loopback.events:,} events preloaded)", self.loopback),
            _scale_out_section(self.loopback, self.two_members),
            *(_latency_section(steady, self.loopback.events_per_s) for steady in self.steady),
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
            *(
                [Figure("RSS per unsettled message (slope while filling up)", result.bytes_per_unsettled, "bytes")]
                if result.bytes_per_unsettled is not None
                else []
            ),
            Figure("max partitions paused (back-pressure)", result.max_paused_partitions),
            Figure("requests to TikTok", result.requests),
            Figure("mean batch size (delivered / requests)", result.mean_batch, "events"),
        ],
    )


def _scale_out_section(one: Drain, two: Drain) -> str:
    """One member against two on the same backlog, and what a core adds: events/s per core of member CPU."""
    figures = [Figure("throughput, 1 member", one.events_per_s, "events/s")]
    figures.append(Figure("throughput, 2 members", two.events_per_s, "events/s"))
    figures.append(Figure("speed-up", two.events_per_s / one.events_per_s, "x"))
    for label, result in (("1 member", one), ("2 members", two)):
        shares = " + ".join(f"{cpu / result.elapsed_s * 100:.1f}" for cpu in result.member_cpu_s)
        figures.append(Figure(f"member CPU use, {label}", shares, "% of one core"))
    for label, result in (("1 member", one), ("2 members", two)):
        figures.append(Figure(f"service CPU per event, {label}", result.cpu_us_per_event, "us"))
    for label, result in (("1 member", one), ("2 members", two)):
        sandbox, broker = (cpu / result.elapsed_s * 100 for cpu in (result.sandbox_cpu_s, result.broker_cpu_s))
        figures.append(Figure(f"sandbox + broker CPU use beside, {label}", f"{sandbox:.1f} + {broker:.1f}", "%"))
    for label, result in (("1 member", one), ("2 members", two)):
        figures.append(Figure(f"whole machine busy, {label}", result.machine_busy * 100, "% of all cores"))
    figures.append(Figure("events/s per core a member uses (2 members)", 1e6 / two.cpu_us_per_event, "events/s"))
    return render_section(
        f"scale-out: 1 vs 2 consumer-group members on the same preloaded backlog ({one.events:,} events, loopback)",
        figures,
    )


def _latency_section(result: Latency, capacity_per_s: float) -> str:
    """Produce -> sandbox receipt, and where it goes: the consume delay (queueing in Kafka when the service is
    behind), the rest (linger, the poll loop, the request until the sandbox reads it), and the request time."""
    inside_p50, inside_p99 = result.p50_ms - result.consume_delay_p50_ms, result.p99_ms - result.consume_delay_p99_ms
    return render_section(
        f"latency produce -> sandbox receipt at {result.rate_per_s:,.0f} events/s ({result.events:,} events; "
        f"{result.rate_per_s / capacity_per_s * 100:.0f}% of the loopback drain's throughput)",
        [
            Figure("p50", result.p50_ms, "ms"),
            Figure("p99", result.p99_ms, "ms"),
            Figure("consume delay p50 (oldest record of each consume batch)", result.consume_delay_p50_ms, "ms"),
            Figure("consume delay p99", result.consume_delay_p99_ms, "ms"),
            Figure("p50 - consume delay p50 (linger, poll loop, request)", inside_p50, "ms"),
            Figure("p99 - consume delay p99", inside_p99, "ms"),
            Figure("request time p50 (service's histogram)", result.request_p50_ms, "ms"),
            Figure("request time p99", result.request_p99_ms, "ms"),
            Figure("service CPU use", result.service_cpu_share * 100, "% of one core"),
            Figure("sandbox CPU use", result.sandbox_cpu_share * 100, "% of one core"),
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
    recorded = str(int(max(plan.latency_rates) * plan.latency_s) + 1000)
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
        suite.loopback = drain([loopback_service], r, plan.events, sendable, _profile_path(root, "loopback", profile))
        loopback_service.stop()
        bodies = single_event_bodies(config, events[: plan.per_event_loopback], now_ms)
        print("per-event reference at loopback ...", flush=True)
        suite.per_event_loopback = post_each(r.sandbox.track_url, ACCESS_TOKEN, bodies)

        suite.pii_hits += _reset_sandbox(r)
        print("drain at loopback by two group members ...", flush=True)
        members = [r.service("bench-two-members"), r.service("bench-two-members")]
        suite.two_members = drain(members, r, plan.events, sendable)
        for member in members:
            member.stop()

        suite.pii_hits += _reset_sandbox(r)
        r.sandbox.set_faults(latency_ms=plan.rtt_ms)
        print(f"drain at {plan.rtt_ms:.0f} ms round trip ...", flush=True)
        rtt_service = r.service("bench-rtt")
        suite.rtt = drain([rtt_service], r, plan.events, sendable, _profile_path(root, "rtt", profile))
        rtt_service.stop()
        print(f"per-event reference at {plan.rtt_ms:.0f} ms round trip ...", flush=True)
        suite.per_event_rtt = post_each(r.sandbox.track_url, ACCESS_TOKEN, bodies[: plan.per_event_rtt])

        suite.pii_hits += _reset_sandbox(r)
        suite.overload_bound = plan.events // 10
        print("overload run ...", flush=True)
        overload_service = r.service("bench-overload", {"kafka": {"max_unsettled": suite.overload_bound}})
        r.sandbox.set_faults(
            latency_ms=plan.rtt_ms, outages=[{"start_s": 0, "duration_s": plan.outage_s, "http_status": 503}]
        )
        suite.overload = drain([overload_service], r, plan.events, sendable, per_unsettled=True)
        overload_service.stop()

        suite.pii_hits += _reset_sandbox(r)
        suite.steady = steady_latencies(r, plan, encoder)
        suite.pii_hits += int(r.sandbox.counts()["pii_hits"])
    return suite


def _reset_sandbox(rig_: Rig) -> int:
    """Reset the sandbox's counts and recorded events for the next part; return its PII-pattern hits so far (a
    reset forgets them)."""
    hits = int(rig_.sandbox.counts()["pii_hits"])
    rig_.sandbox.reset()
    return hits


def steady_latencies(rig_: Rig, plan: Plan, encoder: Encoder) -> list[Latency]:
    """The latency runs, one per rate, on one service of the loopback group (it resumes after the backlog)."""
    service = rig_.service("bench-loopback").start()
    service.wait_ready()
    results, start = [], plan.events
    for rate in plan.latency_rates:
        print(f"steady-rate latency at loopback, {rate:,.0f} events/s ...", flush=True)
        events = list(generate(int(rate * plan.latency_s), encoder, start=start))
        results.append(latency(rig_, service, events, rate))
        start += len(events)
    service.stop()
    return results


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
