"""bench.consent measures what it says: a table of the asked size, figures for each measurement."""

from __future__ import annotations

from bench.consent import build_table, measure


def test_the_table_holds_every_subject_and_a_tenth_withdrawn() -> None:
    table, traced, _rss = build_table(1000)
    assert len(table) == 1000
    assert traced > 0


def test_the_report_names_every_figure() -> None:
    lines = measure(200, 100).lines()
    assert lines[0].startswith("consent table: subjects=200 ")
    assert all(name in lines[1] for name in ("subject", "check (known subject)", "check (unknown subject)"))
