"""The token's defence in depth: it goes only to TikTok's own HTTPS host unless a custom endpoint is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from consumer.sending.settings import TIKTOK_TRACK_URL, TikTokSettings


def test_default_endpoint_is_tiktoks() -> None:
    assert TikTokSettings().endpoint == TIKTOK_TRACK_URL


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://business-api.tiktok.com/open_api/v1.3/event/track/",  # plain HTTP: the token in clear
        "https://business-api.tiktok.com.evil.example/open_api/v1.3/event/track/",
        "https://evil.example/open_api/v1.3/event/track/",
        "https://business-api.tiktok.com@evil.example/open_api/v1.3/event/track/",  # userinfo trick
        "http://127.0.0.1:18080/open_api/v1.3/event/track/",
        "https://ads.tiktok.com/open_api/v1.3/event/track/",
        "business-api.tiktok.com/open_api/v1.3/event/track/",
    ],
)
def test_other_endpoints_are_refused_without_the_flag(endpoint: str) -> None:
    """Any endpoint but HTTPS on business-api.tiktok.com is a configuration error naming the flag."""
    with pytest.raises(ValidationError) as caught:
        TikTokSettings(endpoint=endpoint)
    assert "allow_custom_endpoint" in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    ["https://business-api.tiktok.com/open_api/v1.3/event/track/", "https://BUSINESS-API.tiktok.com:443/x/"],
)
def test_tiktoks_https_host_is_accepted(endpoint: str) -> None:
    assert TikTokSettings(endpoint=endpoint).endpoint == endpoint


def test_the_flag_allows_a_custom_endpoint() -> None:
    """The sandbox, loopback tests, the demo and the benchmarks set allow_custom_endpoint."""
    settings = TikTokSettings(endpoint="http://127.0.0.1:18080/open_api/v1.3/event/track/", allow_custom_endpoint=True)
    assert settings.endpoint.startswith("http://127.0.0.1")
