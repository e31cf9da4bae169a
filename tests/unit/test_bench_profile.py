"""Summarising py-spy's collapsed stacks (bench.profile)."""

from __future__ import annotations

from bench.profile import function_of, summarise

COLLAPSED = [
    "main (consumer/cli.py:40);process (consumer/pipeline.py:160);decode (consumer/decode/avro.py:120) 30",
    "main (consumer/cli.py:40);process (consumer/pipeline.py:161);translate (consumer/mapping/translator.py:70) 50",
    "main (consumer/cli.py:40);process (consumer/pipeline.py:160);decode (consumer/decode/avro.py:121) 20",
    "not a stack line",
]


def test_function_of_drops_the_line_number() -> None:
    """Samples at different lines of one function count as that function."""
    assert function_of(" decode (consumer/decode/avro.py:120)") == "decode (consumer/decode/avro.py)"


def test_self_samples_count_the_leaf_function() -> None:
    """Self time goes to the innermost frame, summed over its lines; malformed lines are skipped."""
    summary = summarise(COLLAPSED)
    assert summary.samples == 100
    assert summary.self_top == [
        ("decode (consumer/decode/avro.py)", 50),
        ("translate (consumer/mapping/translator.py)", 50),
    ]


def test_inclusive_samples_count_each_stack_once_per_function() -> None:
    """A function on every stack has all samples, even when it appears at two lines of the same stack set."""
    inclusive = dict(summarise(COLLAPSED).inclusive_top)
    assert inclusive["process (consumer/pipeline.py)"] == 100
    assert inclusive["main (consumer/cli.py)"] == 100


def test_render_shows_shares() -> None:
    """The rendering gives each function's share of all samples."""
    text = summarise(COLLAPSED).render()
    assert "50.0%  decode (consumer/decode/avro.py)" in text
