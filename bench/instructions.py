"""Instructions per event of the CPU floor, counted by valgrind's callgrind: a figure that does not depend on how
fast or how busy the machine is, so two trees can be compared on a noisy shared machine.

    python -m bench.instructions                 # 300 events per pass (as `make bench` does)
    python -m bench.instructions --events 100    # smaller and quicker (as `make bench-smoke` does)

A child process runs the floor loop (``bench.floor.FloorLoop``) under ``valgrind --tool=callgrind`` on events the
parent generated: a warm-up pass, then a pass over N events, then a pass over the next 2N events. Callgrind starts
with its instrumentation off, so the interpreter's start-up, the imports and the warm-up (which fetches the writer
schemas from the registry) run at near native speed and are not counted; the parent switches it on with
``callgrind_control`` once the child says it is warm. Between the passes the child calls ``os.getloadavg()``, whose
libc function the floor never calls; ``--dump-before=getloadavg`` makes callgrind write its counters out before each
such call, so every pass has its own instruction count. The figure is
(instructions of the 2N pass - instructions of the N pass) / N: what a pass costs whatever its length cancels.
The child runs with ``PYTHONHASHSEED=0``, and the workload is seeded (``python -m bench.instructions`` also fixes
its clock), so a tree gives the same count run after run.
Callgrind runs the child about 30 times slower than natively; it needs no hardware counters (``perf stat`` has
none in most VMs).
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.floor import FloorLoop, messages_of
from bench.harness import Figure, render_section
from bench.stack import service_config
from bench.workload import Event, generate, registry_encoder
from consumer.config import parse_config
from consumer.observability.logging import configure_logging
from tests.registry_double import RegistryDouble

VALGRIND = "valgrind"
CALLGRIND_CONTROL = "callgrind_control"
MARKER = "getloadavg"
WARM_UP_EVENTS = 100
DEFAULT_EVENTS = 300
FIXED_NOW = datetime(2026, 12, 1, tzinfo=UTC)
"""The clock of the standalone run's events and translation: the same input bytes run after run."""
READY = "warm"
GO_FILE = "go"
MISSING = "valgrind is not installed: instructions per event skipped (`apt-get install valgrind`; make bench does it)"


@dataclass(frozen=True, slots=True)
class InstructionCount:
    """Instructions of the floor loop's two passes over N and then 2N events, as callgrind counted them."""

    events: int
    first_pass: int
    second_pass: int

    @property
    def per_event(self) -> float:
        return (self.second_pass - self.first_pass) / self.events

    def section(self) -> str:
        return render_section(
            f"CPU floor in instructions: callgrind, passes of {self.events:,} and {2 * self.events:,} events",
            [Figure("instructions per event", self.per_event)],
        )


def pass_counts(out_dir: Path) -> list[int]:
    """Instructions of each interval that ended at a marker call, in order, from callgrind's dump files there.

    Each dump file has a ``part: K`` line, a ``desc: Trigger: ...`` line naming why it was written, and a
    ``summary: IR`` line; the dump at program termination (not a marker) is left out."""
    parts: dict[int, int] = {}
    for path in out_dir.glob("callgrind.out*"):
        fields = dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line[:20])
        if fields.get("desc") == f"Trigger: --dump-before={MARKER}":
            parts[int(fields["part"])] = int(fields["summary"])
    return [parts[k] for k in sorted(parts)]


def count_from_passes(events: int, counts: Sequence[int]) -> InstructionCount:
    """The count of a run whose markers closed three intervals: the wait for instrumentation, the N pass, the 2N
    pass."""
    if len(counts) != 3:
        raise RuntimeError(f"callgrind wrote {len(counts)} marker dumps, expected 3 (wait, N pass, 2N pass)")
    return InstructionCount(events, counts[1], counts[2])


def measure_instructions(
    config: Mapping[str, Any], events: Sequence[Event], now_ms: int, per_pass: int
) -> InstructionCount | None:
    """Count the floor's instructions per event under callgrind on ``events`` (at least warm-up + 3 * per_pass of
    them, with the registry of ``config`` running); ``None`` when valgrind is not installed (says so on stdout)."""
    if shutil.which(VALGRIND) is None or shutil.which(CALLGRIND_CONTROL) is None:
        print(MISSING, flush=True)
        return None
    needed = WARM_UP_EVENTS + 3 * per_pass
    if len(events) < needed:
        raise ValueError(f"{needed} events needed, {len(events)} given")
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        work = Path(tmp)
        (work / "config.yaml").write_text(yaml.safe_dump(dict(config), sort_keys=False))
        (work / "events.pickle").write_bytes(pickle.dumps(list(events[:needed])))
        command = [
            VALGRIND,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--dump-before={MARKER}",
            "--dump-line=no",
            f"--callgrind-out-file={work / 'callgrind.out'}",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            str(work),
            str(per_pass),
            str(now_ms),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        _run_instrumented(command, env, work)
        return count_from_passes(per_pass, pass_counts(work))


def _run_instrumented(command: Sequence[str], env: Mapping[str, str], work: Path) -> None:
    """Start the child under callgrind, switch instrumentation on once it is warm, and wait for it to finish."""
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stderr is not None
        try:
            if child.stdout.readline().strip() == READY:
                subprocess.run(
                    [CALLGRIND_CONTROL, "--instr=on", str(child.pid)], capture_output=True, check=True, timeout=120
                )
                (work / GO_FILE).touch()
        except (subprocess.SubprocessError, OSError):
            child.kill()
            raise
        _, stderr = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the floor under callgrind failed ({child.returncode}):\n{stderr[-3000:]}")


def _child(work: Path, per_pass: int, now_ms: int) -> None:
    """Under callgrind: warm up uninstrumented, wait for instrumentation, then the N pass and the 2N pass, each
    closed by a marker call."""
    configure_logging("console", "warning")  # as bench.run runs the floor
    config = parse_config(yaml.safe_load((work / "config.yaml").read_text()))
    messages = messages_of(pickle.loads((work / "events.pickle").read_bytes()))  # noqa: S301 - the parent's file
    warm, rest = messages[:WARM_UP_EVENTS], messages[WARM_UP_EVENTS:]
    loop = FloorLoop(config)
    try:
        loop.warm_up(warm)
        loop.run(warm, now_ms)
        print(READY, flush=True)
        # Callgrind takes commands only while the child runs code, so wait by polling rather than blocking.
        while not (work / GO_FILE).exists():
            time.sleep(0.01)
        os.getloadavg()
        loop.run(rest[:per_pass], now_ms)
        os.getloadavg()
        loop.run(rest[per_pass : 3 * per_pass], now_ms)
        os.getloadavg()
    finally:
        loop.close()


def _standalone(per_pass: int) -> InstructionCount | None:
    """The workload of ``make bench`` with the registry double, without broker or sandbox (the floor needs none)."""
    with RegistryDouble().running() as registry:
        encoder = registry_encoder(lambda subject, schema: registry.register(subject, schema).schema_id)
        events = list(generate(WARM_UP_EVENTS + 3 * per_pass, encoder, now=FIXED_NOW))
        config = service_config(
            "127.0.0.1:9", registry.url, "http://127.0.0.1:9/open_api/v1.3/event/track/", group_id="bench", http_port=0
        )
        return measure_instructions(config, events, int(FIXED_NOW.timestamp() * 1000), per_pass)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="N: events of the first pass")
    parser.add_argument("--child", nargs=3, metavar=("DIR", "N", "NOW_MS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        work, per_pass, now_ms = args.child
        _child(Path(work), int(per_pass), int(now_ms))
        return 0
    count = _standalone(args.events)
    if count is not None:
        print(count.section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
