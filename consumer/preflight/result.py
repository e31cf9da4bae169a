"""A check's result and how results are printed: pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: what was checked (``name``), whether it passed, and what was found (never a secret)."""

    name: str
    ok: bool
    detail: str


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, True, detail)


def failed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, False, detail)


def format_result(result: CheckResult) -> str:
    """``ok    name: detail`` or ``FAIL  name: detail``."""
    return f"{'ok' if result.ok else 'FAIL':<5} {result.name}: {result.detail}"


def summary(results: Sequence[CheckResult]) -> str:
    """The last line: every check passed, or how many failed and which."""
    failures = [result.name for result in results if not result.ok]
    if not failures:
        return f"check: all {len(results)} checks passed"
    return f"check: {len(failures)} of {len(results)} checks failed: {', '.join(failures)}"
