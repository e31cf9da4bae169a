"""Access tokens, from the environment only.

``TIKTOK_ACCESS_TOKEN`` serves every event source; ``TIKTOK_ACCESS_TOKEN_<EVENT_SOURCE_ID>`` overrides it for one
pixel or event set (the id upper-cased, any character outside ``A-Z0-9`` written as ``_``). Tokens are held as
``pydantic.SecretStr``, so a repr, a log line or an exception shows ``**********``; only the HTTP client reveals
them, into the ``Access-Token`` header.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import SecretStr

TOKEN_ENV = "TIKTOK_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token
_NOT_ENV_SAFE = re.compile(r"[^A-Z0-9]")


def env_suffix(event_source_id: str) -> str:
    """The environment variable suffix naming ``event_source_id``: ``"c4a-b1"`` -> ``"C4A_B1"``."""
    return _NOT_ENV_SAFE.sub("_", event_source_id.upper())


class TokenStore:
    """The access token for each event source: a per-id override, else the default, else none."""

    __slots__ = ("_default", "_overrides")

    def __init__(self, default: SecretStr | None = None, overrides: Mapping[str, SecretStr] | None = None) -> None:
        self._default = default
        self._overrides = {env_suffix(key): value for key, value in (overrides or {}).items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TokenStore:
        """Read ``TIKTOK_ACCESS_TOKEN`` and every ``TIKTOK_ACCESS_TOKEN_<ID>``; empty values count as unset."""
        env = os.environ if environ is None else environ
        prefix = TOKEN_ENV + "_"
        default = env.get(TOKEN_ENV)
        overrides = {
            key[len(prefix) :]: SecretStr(value) for key, value in env.items() if key.startswith(prefix) and value
        }
        return cls(SecretStr(default) if default else None, overrides)

    def token_for(self, event_source_id: str) -> SecretStr | None:
        """The token to send for ``event_source_id``, or None when neither an override nor a default is set."""
        return self._overrides.get(env_suffix(event_source_id), self._default)

    def __repr__(self) -> str:
        return f"TokenStore(default={'set' if self._default else 'unset'}, overrides={sorted(self._overrides)})"
