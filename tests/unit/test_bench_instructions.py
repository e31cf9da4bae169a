"""Instructions per event from callgrind's dump files (bench.instructions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import instructions
from bench.instructions import count_from_passes, measure_instructions, pass_counts


def _dump(path: Path, part: int, trigger: str, summary: int) -> None:
    path.write_text(
        f"# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 42\ncmd: python -m bench.instructions\n"
        f"part: {part}\n\ndesc: I1 cache: \ndesc: Timerange: Basic block 0 - 99\ndesc: Trigger: {trigger}\n\n"
        f"positions: line\nevents: Ir\nsummary: {summary}\n\nfl=(1) ???\nfn=(1) main\n0 {summary}\n\n"
        f"totals: {summary}\n"
    )


def test_pass_counts_are_the_marker_dumps_in_part_order(tmp_path: Path) -> None:
    """Each dump written before a marker call is one interval, ordered by part number (not by file name); the dump
    at program termination is not an interval between markers."""
    _dump(tmp_path / "callgrind.out.10", 10, "--dump-before=getloadavg", 3_000)
    _dump(tmp_path / "callgrind.out.2", 2, "--dump-before=getloadavg", 2_000)
    _dump(tmp_path / "callgrind.out.1", 1, "--dump-before=getloadavg", 1_000)
    _dump(tmp_path / "callgrind.out", 11, "Program termination", 9_999)
    assert pass_counts(tmp_path) == [1_000, 2_000, 3_000]


def test_per_event_is_the_difference_of_the_passes_over_n() -> None:
    """Passes over N and 2N events cost fixed + N*x and fixed + 2N*x: their difference over N is x, the fixed part
    (the loop's set-up, the marker call) cancels."""
    count = count_from_passes(100, [5_000_000, 70_000 + 100 * 700_000, 70_000 + 200 * 700_000])
    assert count.per_event == 700_000


def test_a_run_without_three_marker_dumps_is_an_error() -> None:
    """Fewer or more dumps mean something else called the marker or the child stopped early: no figure."""
    with pytest.raises(RuntimeError, match="2 marker dumps"):
        count_from_passes(100, [1, 2])


def test_without_valgrind_the_figure_is_skipped_and_said(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A machine without valgrind gets no figure and a line saying why, not a failed bench."""
    monkeypatch.setattr(instructions, "VALGRIND", "valgrind-not-installed-here")
    assert measure_instructions({}, [], 0, 10) is None
    assert "valgrind is not installed" in capsys.readouterr().out
