"""`tiktok-relay sandbox` settings: config file, flags and the tokens variable."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import ValidationError

from consumer.commands.sandbox import add_arguments, build_settings, main, parse_token_spec


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_token_spec_with_and_without_ids() -> None:
    """TOKEN:ID,ID limits a token to those event sources; a bare TOKEN may use all."""
    assert parse_token_spec("tok:PIX1,PIX2") == ("tok", ["PIX1", "PIX2"])
    assert parse_token_spec("tok") == ("tok", [])


def test_empty_token_is_refused() -> None:
    """':PIX1' names no token."""
    with pytest.raises(ValueError, match="empty token"):
        parse_token_spec(":PIX1")


def test_repeated_token_flags() -> None:
    """Each --token adds one accepted token."""
    settings = build_settings(parse("--token", "a:P1", "--token", "b"), {})
    assert settings.tokens == {"a": ["P1"], "b": []}


def test_tokens_from_the_environment() -> None:
    """TIKTOK_SANDBOX_TOKENS (space-separated) is used when no --token is given."""
    settings = build_settings(parse(), {"TIKTOK_SANDBOX_TOKENS": "a:P1,P2 b"})
    assert settings.tokens == {"a": ["P1", "P2"], "b": []}


def test_no_tokens_means_open_mode() -> None:
    """With neither flag nor variable any non-empty token is accepted."""
    assert build_settings(parse(), {}).tokens is None


def test_fault_flags_override_the_config_file(tmp_path: Path) -> None:
    """The file sets defaults (and outages); a flag replaces the one key it names."""
    config = tmp_path / "sandbox.yaml"
    config.write_text("faults:\n  latency_ms: 10\n  error_rate: 0.5\n  outages:\n    - duration_s: 5\n")
    settings = build_settings(parse("--config", str(config), "--latency-ms", "50", "--error-code", "40100"), {})
    assert (settings.faults.latency_ms, settings.faults.error_rate) == (50, 0.5)
    assert settings.faults.error_code == 40100
    assert len(settings.faults.outages) == 1


def test_rate_limit_zero_disables_it() -> None:
    """--rate-limit 0 turns the 40100 limiter off (for benchmarks)."""
    assert build_settings(parse("--rate-limit", "0"), {}).rate_limit_rps is None
    assert build_settings(parse("--rate-limit", "5"), {}).rate_limit_rps == 5


def test_invalid_flag_value_names_the_field() -> None:
    """Out-of-range values are rejected by the settings model."""
    with pytest.raises(ValidationError, match="error_rate"):
        build_settings(parse("--error-rate", "3"), {})


def test_main_reports_bad_settings_with_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad value ends the command before it listens, with a message on stderr."""
    assert main(parse("--timeout-rate", "-1")) == 2
    assert "timeout_rate" in capsys.readouterr().err
