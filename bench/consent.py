"""The consent table's cost: per-event CPU of the check and memory per subject, printed as figures.

``python -m bench.consent [--subjects N] [--events N]`` builds a table of N subjects (default one million, 10 %
of them with a withdrawal) and measures, in process CPU time and without Kafka:

- ``subject``: what translation adds per event when a route names a consent subject (read the field, BLAKE2b-128);
- ``check``: the check the sender runs per event just before a send (a dict lookup and a few integer operations),
  for subjects the table knows and subjects it does not;
- memory: traced Python allocations of the table (``tracemalloc``) and the process RSS growth, per subject.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.harness import read_proc
from consumer.consent_table.entry import PURPOSE_BITS, PurposeBits
from consumer.consent_table.settings import ConsentSubjectSettings
from consumer.consent_table.subject import SubjectReader
from consumer.consent_table.table import ConsentTable, subject_digest
from consumer.model import ConsentSubject

EVENT_MS = 1_764_547_200_000
PURPOSES = PurposeBits(["marketing", "analytics"])


@dataclass(frozen=True, slots=True)
class ConsentBench:
    subjects: int
    traced_bytes: int
    rss_bytes: int
    subject_ns: float
    check_known_ns: float
    check_unknown_ns: float

    def lines(self) -> list[str]:
        per = self.subjects or 1
        return [
            f"consent table: subjects={self.subjects} traced={self.traced_bytes / 2**20:.1f} MiB "
            f"({self.traced_bytes / per:.0f} B/subject) rss_growth={self.rss_bytes / 2**20:.1f} MiB "
            f"({self.rss_bytes / per:.0f} B/subject)",
            f"per event: subject (read + BLAKE2b-128) {self.subject_ns:.0f} ns, check (known subject) "
            f"{self.check_known_ns:.0f} ns, check (unknown subject) {self.check_unknown_ns:.0f} ns",
        ]


def rss_bytes() -> int:
    return read_proc(os.getpid()).rss_bytes


def fill(subjects: int) -> ConsentTable:
    """A table of ``subjects`` (every tenth with marketing denied)."""
    table = ConsentTable()
    for index in range(subjects):
        denied = 1 if index % 10 == 0 else 0
        table.put(subject_digest(f"cust-{index}"), (EVENT_MS + index) << PURPOSE_BITS | denied)
    return table


def build_table(subjects: int) -> tuple[ConsentTable, int, int]:
    """The table, its traced bytes (Python allocations) and the RSS it added. RSS is measured on a first build
    without tracing (tracemalloc's own bookkeeping would inflate it); the traced bytes on a second."""
    gc.collect()
    rss_before = rss_bytes()
    untraced = fill(subjects)
    rss = rss_bytes() - rss_before
    del untraced
    gc.collect()
    tracemalloc.start()
    table = fill(subjects)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return table, traced, rss


def ns_per_call(work: Callable[[], object], calls: int) -> float:
    started = time.process_time_ns()
    work()
    return (time.process_time_ns() - started) / calls


def measure(subjects: int, events: int) -> ConsentBench:
    table, traced, rss = build_table(subjects)
    reader = SubjectReader(ConsentSubjectSettings.model_validate({"from": "customer.customer_id"}), PURPOSES)
    records = [{"customer": {"customer_id": f"cust-{i % subjects}"}} for i in range(events)]
    known = [ConsentSubject(subject_digest(f"cust-{i % subjects}"), 1, EVENT_MS) for i in range(events)]
    unknown = [ConsentSubject(subject_digest(f"other-{i}"), 1, EVENT_MS) for i in range(events)]
    check = table.withheld_reason

    def read_all(rows: Sequence[dict[str, dict[str, str]]] = records) -> None:
        for row in rows:
            reader(row, EVENT_MS)

    def check_all(rows: Sequence[ConsentSubject]) -> Callable[[], None]:
        def run() -> None:
            for subject in rows:
                check(subject)

        return run

    return ConsentBench(
        subjects=subjects,
        traced_bytes=traced,
        rss_bytes=rss,
        subject_ns=ns_per_call(read_all, events),
        check_known_ns=ns_per_call(check_all(known), events),
        check_unknown_ns=ns_per_call(check_all(unknown), events),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.consent", description=__doc__)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=500_000)
    args = parser.parse_args(argv)
    for line in measure(args.subjects, args.events).lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
