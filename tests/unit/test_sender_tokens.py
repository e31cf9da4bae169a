"""Access tokens: from the environment only, per event source overrides, never shown."""

from __future__ import annotations

from pydantic import SecretStr

from consumer.sending.tokens import TokenStore, env_suffix


def test_default_token_serves_every_event_source() -> None:
    """TIKTOK_ACCESS_TOKEN applies to any pixel or event set without an override."""
    tokens = TokenStore.from_env({"TIKTOK_ACCESS_TOKEN": "default-token"})
    token = tokens.token_for("C4ANY")
    assert token is not None
    assert token.get_secret_value() == "default-token"


def test_override_wins_for_its_event_source() -> None:
    """TIKTOK_ACCESS_TOKEN_<ID> replaces the default for that id only."""
    tokens = TokenStore.from_env({"TIKTOK_ACCESS_TOKEN": "default", "TIKTOK_ACCESS_TOKEN_C4PIXEL1": "pixel-one"})
    override = tokens.token_for("c4pixel1")
    assert override is not None
    assert override.get_secret_value() == "pixel-one"
    other = tokens.token_for("C4PIXEL2")
    assert other is not None
    assert other.get_secret_value() == "default"


def test_ids_with_punctuation_map_to_env_safe_names() -> None:
    """Characters outside A-Z0-9 become underscores in the variable name."""
    assert env_suffix("ab-12.cd") == "AB_12_CD"
    tokens = TokenStore.from_env({"TIKTOK_ACCESS_TOKEN_AB_12_CD": "t"})
    assert tokens.token_for("ab-12.cd") is not None


def test_no_token_configured_is_none() -> None:
    """Without any variable there is no token: the sender holds rather than sending unauthenticated."""
    assert TokenStore.from_env({}).token_for("C4ANY") is None


def test_empty_values_count_as_unset() -> None:
    """An empty variable (a template left blank) does not become an empty token."""
    tokens = TokenStore.from_env({"TIKTOK_ACCESS_TOKEN": "", "TIKTOK_ACCESS_TOKEN_P1": ""})
    assert tokens.token_for("P1") is None


def test_tokens_never_appear_in_repr() -> None:
    """Neither the store nor a token shows the secret when printed or logged."""
    tokens = TokenStore(SecretStr("s3cr3t-default"), {"P1": SecretStr("s3cr3t-override")})
    shown = repr(tokens) + repr(tokens.token_for("P1")) + str(tokens.token_for("P2"))
    assert "s3cr3t" not in shown
