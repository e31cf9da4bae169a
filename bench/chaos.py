"""`make chaos`: scripted fault runs against the real service, each ending in an accounting by event_id.

    python -m bench.chaos                 # every scenario at full size (includes a 5-minute TikTok outage)
    python -m bench.chaos --smoke         # four scenarios at small sizes, for CI
    python -m bench.chaos --only sigkill  # one or more scenarios by name

Each scenario gets its own broker, registry double and sandbox. Events are produced at a steady rate while the
fault happens; afterwards the service must settle everything (its consumer group commits to the end of every
source topic). Then every produced event_id is looked up in the sandbox (delivered), the dead-letter topics and
the consent-audit topic; one line per scenario reports produced, delivered, dead-lettered, audited, duplicates and
lost. The exit status is non-zero if any event was lost.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.accounting import Accounting, account
from bench.stack import Rig, ServiceProcess, read_topic, rig, wait_settled
from bench.workload import TOPICS, Event, create_topics, generate, new_producer, produce_at_rate, registry_encoder
from consumer.deadletter.settings import DeadLetterSettings
from consumer.observability.logging import configure_logging
from tools.kafka_broker import REPO

WORK_DIR = REPO / ".cache" / "chaos"
GROUP = "chaos"
SERVICE_OVERRIDES = {"kafka": {"consumer": {"session.timeout.ms": 6000}}}
"""The broker's minimum session timeout (the default is 45 s): a SIGKILLed member's partitions move on after 6 s
instead of stalling the group for 45 s per kill. Nothing else differs from the example config."""


@dataclass(frozen=True, slots=True)
class ChaosPlan:
    """Sizes and fault durations of one suite run."""

    events: int
    rate_per_s: float
    kills: int
    outage_s: float
    storm_s: float
    settle_timeout_s: float

    @property
    def produce_s(self) -> float:
        return self.events / self.rate_per_s


FULL = ChaosPlan(events=30_000, rate_per_s=500.0, kills=6, outage_s=300.0, storm_s=60.0, settle_timeout_s=900.0)
SMOKE = ChaosPlan(events=1_000, rate_per_s=200.0, kills=3, outage_s=10.0, storm_s=6.0, settle_timeout_s=180.0)


@dataclass
class Run:
    """One scenario in progress: the rig, the service (replaced on restarts), the plan and the events."""

    rig: Rig
    service: ServiceProcess
    plan: ChaosPlan
    events: list[Event]
    rng: random.Random


Fault = Callable[[Run], None]


def sigkill(run: Run) -> None:
    """SIGKILL the service at random points (also before it is ready) and start it again each time."""
    for _ in range(run.plan.kills):
        time.sleep(run.rng.uniform(0.5, max(1.0, run.plan.produce_s / run.plan.kills)))
        run.service.kill()
        run.service.start()


def outage(run: Run) -> None:
    """TikTok answers 503 to every request for ``outage_s``."""
    run.rig.sandbox.set_faults(outages=[{"start_s": 0, "duration_s": run.plan.outage_s, "http_status": 503}])


def storm_40100(run: Run) -> None:
    """TikTok answers code 40100 (too many requests) to every request for ``storm_s``."""
    run.rig.sandbox.set_faults(outages=[{"start_s": 0, "duration_s": run.plan.storm_s, "code": 40100}])


def broker_restart(run: Run) -> None:
    """Restart the broker (same data and ports) a third of the way into the stream."""
    time.sleep(run.plan.produce_s / 3)
    run.rig.broker.restart()


def rebalance(run: Run) -> None:
    """A second instance joins the group a third of the way in and leaves (SIGTERM) at two thirds: two rebalances."""
    time.sleep(run.plan.produce_s / 3)
    second = run.rig.service(GROUP, SERVICE_OVERRIDES)
    second.start()
    time.sleep(run.plan.produce_s / 3)
    second.stop()


def reject_1pct(run: Run) -> None:
    """1% of the sendable events are permanently rejected by TikTok with 40002 (a field it refuses)."""
    sendable = [event.event_id for event in run.events if not event.denied]
    rejected = run.rng.sample(sendable, max(1, len(sendable) // 100))
    run.rig.sandbox.set_faults(reject_event_ids=rejected)


SCENARIOS: dict[str, Fault] = {
    "sigkill": sigkill,
    "outage": outage,
    "storm_40100": storm_40100,
    "broker_restart": broker_restart,
    "rebalance": rebalance,
    "reject_1pct": reject_1pct,
}


SMOKE_SCENARIOS = ("sigkill", "broker_restart", "rebalance", "reject_1pct")
"""CI's few: a crash replay, a broker reconnect, a rebalance commit, and dead-lettering (the outage and throttle
handling are the sender's retry loop, which its own tests cover; the full run adds them)."""


def collect(name: str, run: Run) -> Accounting:
    """Where every produced event ended: the sandbox, the dead-letter topics, the audit topic."""
    bootstrap = run.rig.bootstrap_servers
    by_value = {event.value: event.event_id for event in run.events}
    deadletter = DeadLetterSettings()
    dead_lettered = [
        by_value.get(value or b"", f"unknown:{key!r}")
        for topic in TOPICS
        for key, value in read_topic(bootstrap, deadletter.dead_letter_topic(topic))
    ]
    audited = [(key or b"").decode() for key, _ in read_topic(bootstrap, deadletter.audit_topic)]
    counts = run.rig.sandbox.counts()
    return account(
        name,
        [event.event_id for event in run.events],
        run.rig.sandbox.event_ids(),
        dead_lettered,
        audited,
        redelivered=int(counts["duplicates"]),
    )


def run_scenario(name: str, fault: Fault, plan: ChaosPlan, root: Path, seed: int) -> Accounting:
    """Produce at a steady rate while ``fault`` runs, let the service settle everything, then account."""
    with rig(root / name, "--rate-limit", "0", "--max-recorded-events", "0", "--seed", str(seed)) as r:
        create_topics(r.bootstrap_servers, list(TOPICS))
        events = list(generate(plan.events, registry_encoder(r.register), seed=seed))
        service = r.service(GROUP, SERVICE_OVERRIDES)
        run = Run(r, service, plan, events, random.Random(seed))
        service.start()
        service.wait_ready()
        producer = threading.Thread(
            target=produce_at_rate, args=(new_producer(r.bootstrap_servers), iter(events), plan.rate_per_s)
        )
        producer.start()
        fault(run)
        producer.join()
        if not run.service.running:
            run.service.start()
        remaining = wait_settled(r.bootstrap_servers, GROUP, list(TOPICS), plan.settle_timeout_s)
        if remaining:
            print(f"  {name}: {remaining} messages still unsettled after {plan.settle_timeout_s:.0f}s", flush=True)
        run.service.stop()
        return collect(name, run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help=f"small sizes, scenarios {', '.join(SMOKE_SCENARIOS)} (CI)"
    )
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="run only these scenarios")
    parser.add_argument("--seed", type=int, default=11, help="seed of event data, kill times and rejected ids")
    args = parser.parse_args(argv)
    configure_logging("console", "warning")
    plan = SMOKE if args.smoke else FULL
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="chaos-", dir=WORK_DIR))
    print(f"logs and configs of this run: {root}", flush=True)
    print(f"{plan.events:,} events per scenario at {plan.rate_per_s:,.0f}/s", flush=True)
    results = []
    for name in args.only or (SMOKE_SCENARIOS if args.smoke else list(SCENARIOS)):
        started = time.monotonic()
        result = run_scenario(name, SCENARIOS[name], plan, root, args.seed)
        print(f"{result.line()}  [{time.monotonic() - started:.0f} s]", flush=True)
        results.append(result)
    failed = [result.scenario for result in results if not result.ok]
    if failed:
        print(f"LOST EVENTS in: {', '.join(failed)}", flush=True)
    print(f"chaos: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
