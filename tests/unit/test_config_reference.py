"""docs/configuration.md is generated from the typed config model and must not drift from it."""

from __future__ import annotations

from consumer.config import RelayConfig
from tools.config_reference import TARGET, render


def test_committed_reference_matches_the_model() -> None:
    """Fails when a setting was added, removed or re-described without `python -m tools.config_reference`."""
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: python -m tools.config_reference"
    )


def test_reference_lists_every_section_and_nested_key() -> None:
    text = render()
    for section in RelayConfig.model_fields.keys() - {"config_dir"}:
        assert f"## `{section}`" in text
    for key in ("kafka.aws_msk_iam.region", "tiktok.proxy", "schemas.registry.oauth.token_url", "routes[].event"):
        assert f"| `{key}` |" in text, key
