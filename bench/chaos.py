"""`make chaos`: scripted fault runs against the real service, each ending in an accounting by event_id.

    python -m bench.chaos                 # every scenario at full size (includes a 5-minute TikTok outage)
    python -m bench.chaos --smoke         # the CI scenarios at small sizes
    python -m bench.chaos --only sigkill  # one or more scenarios by name
    python -m bench.chaos --smoke --only consent_withdrawal

Each scenario gets its own broker, registry double and sandbox. Events are produced at a steady rate while the
fault happens; afterwards the service must settle everything (its consumer group commits to the end of every
source topic). Then every produced event_id is looked up in the sandbox (delivered), the dead-letter topics and
the consent-audit topic; one line per scenario reports produced, delivered, dead-lettered, audited, duplicates,
lost, the email/phone patterns the sandbox saw in request bodies (pii_hits) and, where subjects withdraw consent,
withdrawn and leaked (their events found at TikTok). The exit status is non-zero if any event was lost or leaked,
any identifier reached a request body, a source topic was not committed to its end, or a scenario's own check
failed (``problems=N``, each printed above the line).

``poison`` interleaves a corpus of bad records (wrong magic byte, unknown schema id, truncated, header only, random
bytes, empty, tombstone, JSON, trailing garbage and a 1,000,005-byte value) with the valid events: each must be
dead-lettered byte for byte (the oversized one reduced, its value left out), and every topic committed to its end.
``stuck_partition_memory`` makes one record unable to settle for ``stuck_s`` (its dead-letter topic is deleted for
that long, so Kafka answers UNKNOWN_TOPIC_OR_PART and the relay retries) while events flow at the plan's rate, and
reports the service's peak RSS against the bound ``kafka.max_partition_span`` sets.
``one_pixel_auth`` refuses the ``outlet`` pixel's token for the whole run: its events must be dead-lettered as
``destination_auth_failed`` while the other pixels are delivered, and ``dlq replay --to tiktok`` after the fix must
deliver them.
``rebalance_storm`` refuses one pixel's token while members join and leave every few seconds, checks that no
member's sender keeps events of partitions it gave up, and reports the first member's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource

from bench.accounting import Accounting, account
from bench.stack import ACCESS_TOKEN, RELAY, ConfigEdit, Rig, ServiceProcess, read_topic, rig, wait_settled
from bench.workload import PARTITIONS, TOPICS, Event, generate, new_producer, produce_at_rate, registry_encoder
from consumer.deadletter.settings import DeadLetterSettings
from consumer.demo.run import create_topics, publish_consent, with_consent_table
from consumer.kafka.client import local_config
from consumer.kafka.topics import admin_client
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
    withdrawal_outage_s: float
    settle_timeout_s: float
    stuck_s: float
    stuck_rate_per_s: float
    stuck_span: int
    rebalance_storm_s: float

    @property
    def produce_s(self) -> float:
        return self.events / self.rate_per_s


FULL = ChaosPlan(
    events=30_000,
    rate_per_s=500.0,
    kills=6,
    outage_s=300.0,
    storm_s=60.0,
    withdrawal_outage_s=60.0,
    settle_timeout_s=900.0,
    stuck_s=300.0,
    stuck_rate_per_s=2_000.0,
    stuck_span=50_000,
    rebalance_storm_s=120.0,
)
SMOKE = ChaosPlan(
    events=1_000,
    rate_per_s=200.0,
    kills=3,
    outage_s=10.0,
    storm_s=6.0,
    withdrawal_outage_s=10.0,
    settle_timeout_s=180.0,
    stuck_s=25.0,
    stuck_rate_per_s=500.0,
    stuck_span=1_000,
    rebalance_storm_s=24.0,
)


@dataclass
class Run:
    """One scenario in progress: the rig, the service (replaced on restarts), the plan and the events."""

    rig: Rig
    service: ServiceProcess
    plan: ChaosPlan
    events: list[Event]
    rng: random.Random
    notes: list[str] = field(default_factory=list)
    """Figures a scenario reports beside its accounting line."""
    forbidden: list[str] = field(default_factory=list)  # event_ids that must never reach TikTok
    problems: list[str] = field(default_factory=list)
    """What a scenario found wrong while it ran (each fails the scenario, like those of ``AFTER_SETTLED``)."""


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


# -- poison: a corpus of bad records among the valid events ---------------------------------------------------------

POISON_TOPIC = "orders.paid"
POISON_PREFIX = "poison-"
OVERSIZED = 1_000_005
SOURCE_MAX_BYTES = 3_000_000
"""The poison topic accepts records this large (and the test producer sends them), as in issue 13's reproduction."""


def poison_corpus(valid: bytes, rng: random.Random) -> dict[str, bytes | None]:
    """Bad records by kind (``valid`` is one well-formed Confluent-framed value to damage)."""
    return {
        "wrong_magic": b"\x01" + valid[1:],
        "unknown_schema_id": b"\x00" + (999_999).to_bytes(4, "big") + valid[5:],
        "truncated": valid[: len(valid) // 2],
        "header_only": valid[:5],
        "random_bytes": rng.randbytes(64),
        "empty": b"",
        "tombstone": None,
        "json": b'{"order_id": "o-1", "total": 12.5}',
        "trailing_garbage": valid + b"garbage",
        "oversized": b"\x00" + os.urandom(OVERSIZED - 1),
    }


def set_topic_config(bootstrap_servers: str, topic: str, name: str, value: str) -> None:
    admin = admin_client(local_config(bootstrap_servers))
    entry = ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
    futures = admin.incremental_alter_configs([ConfigResource("topic", topic, incremental_configs=[entry])])
    for future in futures.values():
        future.result(timeout=30)


def prepare_poison(r: Rig) -> None:
    """Before the service starts: the poison topic takes 3 MB records, so its dead-letter topic is created so too."""
    set_topic_config(r.bootstrap_servers, POISON_TOPIC, "max.message.bytes", str(SOURCE_MAX_BYTES))


def poison(run: Run) -> None:
    """Produce the corpus spread over the stream, each record keyed ``poison-<kind>`` (its id in the accounting)."""
    valid = next(event.value for event in run.events if event.topic == POISON_TOPIC)
    producer = Producer({**local_config(run.rig.bootstrap_servers), "message.max.bytes": SOURCE_MAX_BYTES})
    corpus = poison_corpus(valid, run.rng)
    for kind, value in corpus.items():
        time.sleep(run.plan.produce_s / (len(corpus) + 1))
        key = (POISON_PREFIX + kind).encode()
        producer.produce(POISON_TOPIC, value=value, key=key)
        run.events.append(Event(POISON_TOPIC, key.decode(), False, key, value if value is not None else b""))
    if producer.flush(60):
        raise RuntimeError("the poison corpus was not acknowledged by the broker")
    run.notes.append(f"poison corpus: {', '.join(corpus)} ({len(corpus)} records)")


def dead_letter_id(
    key: bytes | None, value: bytes | None, events: dict[bytes, Event], by_value: dict[bytes, str]
) -> str:
    """The event a dead-letter record stands for: a poison record by its key, only if its value is the original
    byte for byte (or left out, for the oversized one: a reduced dead letter); any other by its value."""
    event = events.get(key or b"")
    if event is None:
        return by_value.get(value or b"", f"unknown:{key!r}")
    reduced = value is None and len(event.value) == OVERSIZED
    return event.event_id if reduced or (value or b"") == event.value else f"altered:{event.event_id}"


# -- stuck_partition_memory: one record that cannot settle ------------------------------------------------------

STUCK_KEY = b"stuck-0"
MIB = 1024 * 1024


def metric_max(port: int, name: str) -> float:
    """The largest sample of ``name`` (any labels) on the service's /metrics page; 0 when absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = [float(v) for v in re.findall(rf"^tiktok_relay_{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)]
    return max(values, default=0.0)


def stuck_partition_memory(run: Run) -> None:
    """One malformed record's dead-letter write cannot complete for ``stuck_s`` (its dead-letter topic is deleted
    meanwhile; the broker does not auto-create topics) while the stream flows; then the topic is back and the write
    goes through. Reports what the stuck partition held and the service's peak RSS."""
    plan, bootstrap = run.plan, run.rig.bootstrap_servers
    dead_letters = DeadLetterSettings().dead_letter_topic(POISON_TOPIC)
    admin = admin_client(local_config(bootstrap))
    partitions = len(admin.list_topics(dead_letters, timeout=30).topics[dead_letters].partitions)
    for future in admin.delete_topics([dead_letters]).values():
        future.result(timeout=30)
    producer = Producer(local_config(bootstrap))
    stuck = Event(POISON_TOPIC, STUCK_KEY.decode(), False, STUCK_KEY, b"\x01not avro: cannot settle")
    producer.produce(POISON_TOPIC, value=stuck.value, key=stuck.key, partition=0)
    producer.flush(30)
    run.events.append(stuck)
    time.sleep(plan.stuck_s)
    age = metric_max(run.service.http_port, "oldest_unsettled_age_seconds")
    paused = metric_max(run.service.http_port, "paused_partitions")
    create_topics(bootstrap, [dead_letters], partitions)
    run.notes.append(
        f"stuck {plan.stuck_s:.0f} s at {plan.stuck_rate_per_s:,.0f} events/s: oldest unsettled age {age:.0f} s, "
        f"{paused:.0f} partition(s) paused at the end, kafka.max_partition_span={plan.stuck_span:,}"
    )


# -- consent_withdrawal: subjects withdraw consent during an outage --------------------------------------------

CONSENT_TOPIC = "consent.state"
WITHDRAWAL_WAVES = 4
WITHDRAWN_SHARE = 20  # one order customer in 20 withdraws
WITHDRAWN = {"marketing": "DENIED", "analytics": "DENIED"}


def prepare_consent_table(r: Rig) -> None:
    """Before the service starts: the compacted consent topic it reads as its consent table."""
    create_topics(r.bootstrap_servers, [CONSENT_TOPIC], 3, compacted=True)


def consent_withdrawal(run: Run) -> None:
    """TikTok answers 503 for ``withdrawal_outage_s``; meanwhile one order customer in 20 withdraws marketing
    consent, in waves, each published before the outage ends. Their orders are stuck in retries (or not consumed
    yet) when they withdraw: none may reach TikTok, each must be audited."""
    outage_s = run.plan.withdrawal_outage_s
    run.rig.sandbox.set_faults(outages=[{"start_s": 0, "duration_s": outage_s, "http_status": 503}])
    orders = [event for event in run.events if event.topic == "orders.paid" and not event.denied]
    chosen = run.rng.sample(orders, max(WITHDRAWAL_WAVES, len(orders) // WITHDRAWN_SHARE))
    run.forbidden = [event.event_id for event in chosen]
    for wave in range(WITHDRAWAL_WAVES):
        time.sleep(0.8 * outage_s / WITHDRAWAL_WAVES)  # the last wave lands at 80% of the outage
        subjects = {customer_of(event): WITHDRAWN for event in chosen[wave::WITHDRAWAL_WAVES]}
        publish_consent(run.rig.bootstrap_servers, CONSENT_TOPIC, subjects, datetime.now(UTC))


def customer_of(event: Event) -> str:
    """The workload gives event ``evt-<n>`` its own customer ``cust-<n>``."""
    return "cust-" + event.event_id.removeprefix("evt-")


OUTLET_PIXEL = "CEXAMPLEPIXELOUTLET1"
"""The example config's ``outlet`` store pixel: one order in five (``bench.workload``)."""
REASON = "destination_auth_failed"
ONE_PIXEL_TIKTOK = {"destination_fault_after_s": 5, "auth_fault_retry_s": 1}
"""Dead-letter the refused pixel after 5 s instead of 15 minutes, retried every second while held."""


def one_pixel_auth(run: Run) -> None:
    """TikTok refuses the ``outlet`` pixel (40001) for the whole run; the ``main`` pixel and the CRM event set are
    accepted. The outlet events must end in the dead-letter topic as ``destination_auth_failed`` so every partition
    commits; ``replay_fixed_pixel`` then fixes the token and replays them to TikTok."""
    run.rig.sandbox.set_faults(event_source_codes={OUTLET_PIXEL: 40001})


def replay_fixed_pixel(run: Run) -> list[str]:
    """Fix the token (clear the fault) and replay each dead-letter topic's ``destination_auth_failed`` records with
    ``dlq replay --to tiktok``: every dead letter must carry that reason and be in the sandbox afterwards."""
    run.rig.sandbox.set_faults()
    env = {**os.environ, "TIKTOK_ACCESS_TOKEN": ACCESS_TOKEN}
    by_value = {event.value: event.event_id for event in run.events}
    problems: list[str] = []
    dead_lettered: set[str] = set()
    for topic in TOPICS:
        dlq = DeadLetterSettings().dead_letter_topic(topic)
        values = [value or b"" for _, value in read_topic(run.rig.bootstrap_servers, dlq)]
        if not values:
            continue
        dead_lettered |= {by_value.get(value, "?") for value in values}
        command = [str(RELAY), "dlq", "replay", "--config", str(run.service.config_path), "--topic", dlq, "--json"]
        command += ["--reason", REASON, "--to", "tiktok", "--rate", "2000"]
        done = subprocess.run(command, env=env, capture_output=True, timeout=600, check=False)
        counts = json.loads(done.stdout.splitlines()[-1])["counts"] if done.returncode == 0 else {}
        if counts.get("replayed") != len(values):
            problems.append(f"{dlq}: {len(values)} dead letters, replay of {REASON}: {counts or done.returncode}")
    missing = dead_lettered - run.rig.sandbox.event_ids()
    run.notes.append(f"{len(dead_lettered)} events dead-lettered as {REASON}, replayed after the fix")
    if not dead_lettered:
        problems.append(f"nothing was dead-lettered as {REASON}")
    return problems + ([f"{len(missing)} replayed events not delivered"] if missing else [])


# -- rebalance_storm: members join and leave while one pixel's token is refused -------------------------------------

MEMBER_INTERVAL_S = 4.0
STORM_OVERRIDES: dict[str, Any] = {
    "kafka": {**SERVICE_OVERRIDES["kafka"], "drain_deadline_s": 3},
    "tiktok": {"close_timeout_s": 2, "auth_fault_retry_s": 2},
}
"""A revoke waits ``drain_deadline_s`` for work that cannot settle while the token is refused, and a leaving member
its sender's ``close_timeout_s``: short, so that members can come and go every few seconds. Held requests retry
every ~2 s, so the held events go out soon after the token is accepted again."""


def retained_unassigned(service: ServiceProcess) -> float | None:
    """Events ``service``'s sender holds for partitions it does not own (None while its HTTP port is not up)."""
    try:
        return metric_max(service.http_port, "sender_retained_unassigned_events")
    except OSError:
        return None


def rebalance_storm(run: Run) -> None:
    """One pixel's token is refused (40105) for the whole stream while extra members join and leave every few
    seconds (each change revokes partitions from the others). After every change each member's sender is asked how
    many events it still holds for partitions it no longer owns: the largest answer is reported and must be 0. Then
    the token is accepted again, and the held events are delivered."""
    run.rig.sandbox.set_faults(event_source_codes={OUTLET_PIXEL: 40105})
    members: list[ServiceProcess] = []
    samples: list[float] = []
    changes = 0
    deadline = time.monotonic() + run.plan.produce_s
    while time.monotonic() < deadline:
        joining = run.rig.service(GROUP, STORM_OVERRIDES)
        joining.start()
        members.append(joining)
        changes += 1
        time.sleep(MEMBER_INTERVAL_S)
        if len(members) > 1:
            members.pop(0).stop()
            changes += 1
        samples += [s for m in (run.service, *members) if (s := retained_unassigned(m)) is not None]
    for member in members:
        member.stop()
        changes += 1
    time.sleep(MEMBER_INTERVAL_S)  # the last revoke back to the first member
    samples += [s for s in (retained_unassigned(run.service),) if s is not None]
    held = metric_max(run.service.http_port, "sender_retained_events")
    jobs = metric_max(run.service.http_port, "sender_retained_jobs")
    run.rig.sandbox.set_faults()
    if max(samples, default=0):
        run.problems.append(f"a sender kept {max(samples):.0f} events of partitions its member no longer owned")
    run.notes.append(
        f"{changes} membership changes in {run.plan.produce_s:.0f} s with {OUTLET_PIXEL}'s token refused: events held "
        f"for partitions a member no longer owns, max over {len(samples)} samples: {max(samples, default=0):.0f}; "
        f"the remaining member held {held:.0f} events in {jobs:.0f} requests before the token was accepted again"
    )


SCENARIOS: dict[str, Fault] = {
    "sigkill": sigkill,
    "outage": outage,
    "storm_40100": storm_40100,
    "broker_restart": broker_restart,
    "rebalance": rebalance,
    "reject_1pct": reject_1pct,
    "poison": poison,
    "stuck_partition_memory": stuck_partition_memory,
    "consent_withdrawal": consent_withdrawal,
    "one_pixel_auth": one_pixel_auth,
    "rebalance_storm": rebalance_storm,
}
CONFIG_EDITS: dict[str, ConfigEdit] = {"consent_withdrawal": lambda config: with_consent_table(config, CONSENT_TOPIC)}
"""Scenarios whose service config needs more than section overrides (applied after ``scenario_overrides``)."""

PREPARE: dict[str, Callable[[Rig], None]] = {"poison": prepare_poison, "consent_withdrawal": prepare_consent_table}
"""Set-up a scenario needs before the service starts."""

AFTER_SETTLED: dict[str, Callable[[Run], list[str]]] = {"one_pixel_auth": replay_fixed_pixel}
"""Checks run once the service has settled everything and stopped; each returns the problems it found."""


def scenario_plan(name: str, plan: ChaosPlan) -> ChaosPlan:
    """The plan of one scenario: the stuck-partition run streams for ``stuck_s`` (and a little more) at its rate,
    the rebalance storm for ``rebalance_storm_s``."""
    if name == "rebalance_storm":
        return replace(plan, events=int(plan.rate_per_s * plan.rebalance_storm_s))
    if name != "stuck_partition_memory":
        return plan
    produce_s = plan.stuck_s + 10
    return replace(plan, rate_per_s=plan.stuck_rate_per_s, events=int(plan.stuck_rate_per_s * produce_s))


STUCK_PRODUCER = {"topic.metadata.refresh.interval.ms": 1000, "message.timeout.ms": 10_000}
"""The stuck scenario's dead-letter producer notices the re-created topic within a second (librdkafka's default
refresh is 5 minutes) and hands a write back for a retry every 10 s while the topic is gone."""


def scenario_overrides(name: str, plan: ChaosPlan) -> dict[str, Any]:
    if name == "one_pixel_auth":
        return {**SERVICE_OVERRIDES, "tiktok": ONE_PIXEL_TIKTOK}
    if name == "rebalance_storm":
        return STORM_OVERRIDES
    if name != "stuck_partition_memory":
        return SERVICE_OVERRIDES
    return {
        "kafka": {**SERVICE_OVERRIDES["kafka"], "max_partition_span": plan.stuck_span},
        "deadletter": {"producer": STUCK_PRODUCER},
    }


SMOKE_SCENARIOS = (
    "sigkill",
    "broker_restart",
    "rebalance",
    "reject_1pct",
    "poison",
    "stuck_partition_memory",
    "consent_withdrawal",
    "one_pixel_auth",
    "rebalance_storm",
)
"""CI's few: a crash replay, a broker reconnect, a rebalance commit, dead-lettering, hostile records, a stuck
partition, consent withdrawn during a short outage, one pixel refused while the others are delivered, and a
rebalance storm during a token fault (the long outage and throttle handling are the sender's retry loop, which its
own tests cover; the full run adds them)."""


def collect(name: str, run: Run) -> Accounting:
    """Where every produced event ended: the sandbox, the dead-letter topics, the audit topic."""
    bootstrap = run.rig.bootstrap_servers
    by_value = {event.value: event.event_id for event in run.events}
    keyed = {event.key: event for event in run.events if event.key.startswith((POISON_PREFIX.encode(), STUCK_KEY))}
    deadletter = DeadLetterSettings()
    dead_lettered = [
        dead_letter_id(key, value, keyed, by_value)
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
        forbidden=run.forbidden,
        pii_hits=int(counts["pii_hits"]),
    )


RSS_SCENARIOS = ("stuck_partition_memory", "rebalance_storm")
"""Scenarios that report the peak RSS of the service (the first member, present throughout)."""


def run_scenario(name: str, fault: Fault, plan: ChaosPlan, root: Path, seed: int) -> Accounting:
    """Produce at a steady rate while ``fault`` runs, let the service settle everything, then account."""
    plan = scenario_plan(name, plan)
    with rig(root / name, "--rate-limit", "0", "--max-recorded-events", "0", "--seed", str(seed)) as r:
        create_topics(r.bootstrap_servers, list(TOPICS), PARTITIONS)
        if name in PREPARE:
            PREPARE[name](r)
        events = list(generate(plan.events, registry_encoder(r.register), seed=seed))
        service = r.service(GROUP, scenario_overrides(name, plan), edit=CONFIG_EDITS.get(name))
        run = Run(r, service, plan, events, random.Random(seed))
        service.start()
        service.wait_ready()
        producer = threading.Thread(
            # A copy: scenarios append the records they produce themselves to ``run.events`` for the accounting.
            target=produce_at_rate,
            args=(new_producer(r.bootstrap_servers), iter(list(events)), plan.rate_per_s),
        )
        producer.start()
        fault(run)
        producer.join()
        if not run.service.running:
            run.service.start()
        remaining = wait_settled(r.bootstrap_servers, GROUP, list(TOPICS), plan.settle_timeout_s)
        problems = [f"{remaining} messages still unsettled after {plan.settle_timeout_s:.0f}s"] if remaining else []
        problems += run.problems
        run.service.stop()
        problems += AFTER_SETTLED[name](run) if name in AFTER_SETTLED else []
        if name in RSS_SCENARIOS and run.service.monitor is not None:
            run.notes.append(f"peak RSS of the service {run.service.monitor.max_rss_bytes / MIB:.0f} MiB")
        for line in run.notes + problems:
            print(f"  {name}: {line}", flush=True)
        return replace(collect(name, run), problems=len(problems))


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
        print(f"LOST EVENTS or PII in request bodies in: {', '.join(failed)}", flush=True)
    print(f"chaos: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
