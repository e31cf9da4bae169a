"""Profiling the running service with py-spy (a sampling profiler that attaches by pid, no code change), and a
plain-text summary of where the samples fell.

``py-spy record --format raw`` writes collapsed stacks, one line per distinct stack: ``frame;frame;...;leaf N``
where each frame reads ``function (file:line)``. The summary counts, per function, the samples where it is the
leaf (self time) and the samples where it is anywhere on the stack (inclusive time, each stack counted once).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
_LINE_NUMBER = re.compile(r":\d+\)$")


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """Samples in total, and the top functions by self and by inclusive samples."""

    samples: int
    self_top: list[tuple[str, int]]
    inclusive_top: list[tuple[str, int]]

    def render(self) -> str:
        def rows(title: str, items: list[tuple[str, int]]) -> list[str]:
            return [title, *(f"  {count / self.samples * 100:5.1f}%  {name}" for name, count in items)]

        return "\n".join(
            [
                f"== profile of the service during the drain ({self.samples:,} samples)",
                *rows("self (the function itself was running):", self.self_top),
                *rows("inclusive (the function was on the stack):", self.inclusive_top),
            ]
        )


def function_of(frame: str) -> str:
    """``"send (consumer/sending/sender.py:120)"`` -> ``"send (consumer/sending/sender.py)"``: one row per function
    rather than per line."""
    return _LINE_NUMBER.sub(")", frame.strip())


def summarise(collapsed: Iterable[str], top: int = 25) -> ProfileSummary:
    """Self and inclusive sample counts per function from collapsed-stack lines."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [function_of(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return ProfileSummary(total, self_counts.most_common(top), inclusive.most_common(top))


@contextmanager
def py_spy_record(pid: int, output: Path, rate_hz: int = 250) -> Iterator[None]:
    """Sample the Python stacks of ``pid``, without pausing it, until the block ends; write them to ``output``."""
    command = [str(PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--output", str(output)]
    process = subprocess.Popen(
        [*command, "--rate", str(rate_hz), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
