"""Measuring a child process from outside (CPU time and peak RSS from ``/proc``), timers, and the figure printer.

The service under test runs as its own process, so its cost is read from the kernel's accounting of that process
alone: ``utime + stime`` from ``/proc/<pid>/stat`` and ``VmHWM`` (peak resident set) from ``/proc/<pid>/status``.
Nothing here depends on the service's code.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Fields 14 and 15 of /proc/<pid>/stat (1-based) are utime and stime; they follow the ")" that closes comm.
_UTIME_AFTER_COMM = 11


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One reading of a process: CPU seconds used so far and resident memory now and at its peak, in bytes."""

    cpu_s: float
    rss_bytes: int
    peak_rss_bytes: int


def parse_stat_cpu_seconds(stat_line: str, clock_ticks: int = CLOCK_TICKS) -> float:
    """User + system CPU seconds from one ``/proc/<pid>/stat`` line (comm may contain spaces and parentheses)."""
    after_comm = stat_line[stat_line.rindex(")") + 2 :].split()
    utime, stime = int(after_comm[_UTIME_AFTER_COMM]), int(after_comm[_UTIME_AFTER_COMM + 1])
    return (utime + stime) / clock_ticks


def parse_status_kib(status_text: str, key: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``) in bytes; 0 when absent (a zombie)."""
    for line in status_text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    return 0


def read_proc(pid: int) -> ProcSample:
    """Read the process's CPU time and memory now; raises ``ProcessLookupError`` once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        raise ProcessLookupError(pid) from None
    return ProcSample(
        cpu_s=parse_stat_cpu_seconds(stat),
        rss_bytes=parse_status_kib(status, "VmRSS"),
        peak_rss_bytes=parse_status_kib(status, "VmHWM"),
    )


@dataclass
class ProcMonitor:
    """Samples one process in a background thread, so the last reading before it exits is never lost.

    ``VmHWM`` is the kernel's own peak, so sampling frequency does not limit the peak figure; sampling keeps the
    latest CPU reading for when the process has exited (a dead process has no ``/proc`` entry to read).
    """

    pid: int
    interval_s: float = 0.1
    last: ProcSample = field(default=ProcSample(0.0, 0, 0))
    max_rss_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ProcMonitor:
        self.sample()
        self._thread = threading.Thread(target=self._run, name=f"procmon-{self.pid}", daemon=True)
        self._thread.start()
        return self

    def sample(self) -> ProcSample:
        """Read now (falling back to the last reading if the process is gone) and return the reading."""
        try:
            self.last = read_proc(self.pid)
        except ProcessLookupError:
            return self.last
        self.max_rss_bytes = max(self.max_rss_bytes, self.last.rss_bytes, self.last.peak_rss_bytes)
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def stop(self) -> ProcSample:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.sample()


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over cores, from ``/proc/stat``."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields)
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def gauge_values(exposition: str, names: Iterable[str]) -> dict[str, float]:
    """The values of unlabelled gauges ``names`` in a Prometheus text exposition (absent names are left out)."""
    wanted = set(names)
    values: dict[str, float] = {}
    for line in exposition.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            values[name] = float(value)
    return values


def histogram_buckets(exposition: str, name: str) -> list[tuple[float, float]]:
    """The cumulative buckets ``(le, count)`` of the unlabelled histogram ``name`` in a Prometheus text exposition,
    in ascending ``le`` (``+Inf`` last)."""
    prefix = f'{name}_bucket{{le="'
    buckets = []
    for line in exposition.splitlines():
        if line.startswith(prefix):
            bound, _, count = line[len(prefix) :].partition('"} ')
            buckets.append((float(bound), float(count)))
    return sorted(buckets)


def bucket_quantile(before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]], q: float) -> float:
    """The ``q`` quantile (0..1) of the observations made between two readings of a histogram's buckets, by linear
    interpolation inside the bucket it falls in (as PromQL's ``histogram_quantile``); NaN without observations.
    A quantile in the ``+Inf`` bucket reads as the largest finite bound."""
    earlier = dict(before)
    counts = [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]
    total = counts[-1][1] if counts else 0.0
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in counts:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass
class GaugeWatcher:
    """Polls a ``/metrics`` URL in a background thread and keeps the maximum seen of each named gauge; with ``pid``,
    it also keeps a trace of (first gauge's value, that process's resident memory in bytes) at each poll."""

    url: str
    names: tuple[str, ...]
    interval_s: float = 0.25
    pid: int | None = None
    maxima: dict[str, float] = field(default_factory=dict)
    trace: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> GaugeWatcher:
        self._thread = threading.Thread(target=self._run, name="gauge-watcher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 - our own loopback URL
                    text = response.read().decode()
            except OSError:
                continue
            values = gauge_values(text, self.names)
            for name, value in values.items():
                self.maxima[name] = max(value, self.maxima.get(name, value))
            if self.pid is not None and self.names[0] in values:
                try:
                    self.trace.append((values[self.names[0]], read_proc(self.pid).rss_bytes))
                except ProcessLookupError:
                    continue

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.maxima


def bytes_per_unit(trace: Sequence[tuple[float, int]]) -> float | None:
    """Memory per unit of a count that rose to its peak, from a trace of (count, resident bytes): the slope of the
    least-squares line through the samples from the first at a quarter of the peak to the first at the peak (later
    samples, while the count falls, keep memory the allocator has not returned). None with fewer than two distinct
    counts in that range."""
    if not trace:
        return None
    peak = max(count for count, _ in trace)
    start = next(i for i, (count, _) in enumerate(trace) if count >= peak / 4)
    end = next(i for i, (count, _) in enumerate(trace) if count >= peak)
    rising = trace[start : end + 1]
    if len({count for count, _ in rising}) < 2:
        return None
    return statistics.linear_regression([c for c, _ in rising], [float(rss) for _, rss in rising]).slope


class Stopwatch:
    """Wall-clock seconds since start (monotonic)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; raises ``ValueError`` when empty."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def machine_description() -> dict[str, str]:
    """What BENCHMARKS.md records about the machine: cores, memory, CPU model, Python and kernel."""
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_bytes = parse_status_kib(Path("/proc/meminfo").read_text(), "MemTotal")
    return {
        "cores (nproc)": str(os.cpu_count()),
        "memory": f"{mem_bytes / 2**30:.1f} GiB",
        "cpu": cpu_model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure: a name, a value and its unit, printed as an aligned row."""

    name: str
    value: float | int | str
    unit: str = ""

    def render(self, width: int) -> str:
        value = self.value
        if isinstance(value, float):
            text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = value
        return f"  {self.name:<{width}}  {text:>14} {self.unit}".rstrip()


def render_section(title: str, figures: Iterable[Figure]) -> str:
    """A titled block of aligned figure rows."""
    rows = list(figures)
    width = max((len(f.name) for f in rows), default=0)
    return "\n".join([f"== {title}", *(f.render(width) for f in rows)])
