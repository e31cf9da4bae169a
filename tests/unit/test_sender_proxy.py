"""Egress through a forward proxy: the sender reaches TikTok (the sandbox over real TLS on loopback) through a real
CONNECT proxy, from ``tiktok.proxy`` or the standard proxy variables, with credentials from the environment."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr, ValidationError
from structlog.testing import capture_logs

from consumer.errors import ConfigError
from consumer.model import Delivered
from consumer.sandbox.server import Sandbox
from consumer.sandbox.settings import SandboxSettings
from consumer.sending.client import TikTokClient
from consumer.sending.settings import TikTokSettings
from tests.forward_proxy import ForwardProxy
from tests.unit.test_sender import TOKEN, outbound, running_sender, settle

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY")


@pytest.fixture(autouse=True)
def clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own proxy variables must not decide these tests."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(certificate_authority: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    certificate_authority.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def tls_sandbox(certificate_authority: trustme.CA) -> AsyncIterator[Sandbox]:
    """The TikTok double over HTTPS on 127.0.0.1, with a certificate the test CA signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    sandbox = Sandbox(SandboxSettings(tokens={TOKEN: []}, seed=7))
    await sandbox.start(ssl_context=context)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


def target_of(sandbox: Sandbox) -> str:
    return sandbox.base_url.split("://", 1)[1]


async def deliver_one(endpoint: str, **settings: Any) -> None:
    async with running_sender(endpoint, **settings) as sender:
        outcomes = await settle([sender.submit(outbound(1))])
    assert isinstance(outcomes[0], Delivered), outcomes[0]


async def test_https_goes_through_the_configured_proxy_by_connect(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: Path
) -> None:
    """With `tiktok.proxy`, the request to the HTTPS endpoint goes through one CONNECT tunnel and is delivered."""
    await deliver_one(tls_sandbox.track_url, proxy=proxy.url, ca_location=ca_file)
    assert proxy.tunnels == [target_of(tls_sandbox)]
    assert tls_sandbox.store.event_ids("PIX1") == ["e1"]


async def test_https_proxy_variable_is_honoured(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `tiktok.proxy`, HTTPS_PROXY from the environment carries the request."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    await deliver_one(tls_sandbox.track_url, ca_location=ca_file)
    assert proxy.tunnels == [target_of(tls_sandbox)]


async def test_no_proxy_bypasses_the_proxy_variable(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host listed in NO_PROXY is reached directly although HTTPS_PROXY is set."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    await deliver_one(tls_sandbox.track_url, ca_location=ca_file)
    assert proxy.tunnels == []
    assert tls_sandbox.store.event_ids("PIX1") == ["e1"]


async def test_trust_env_off_ignores_the_proxy_variables(
    tls_sandbox: Sandbox, proxy: ForwardProxy, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`trust_env: false` makes the standard variables irrelevant (the request goes direct)."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    await deliver_one(tls_sandbox.track_url, ca_location=ca_file, trust_env=False)
    assert proxy.tunnels == []


async def test_http_endpoint_is_forwarded_through_the_proxy(proxy: ForwardProxy) -> None:
    """A plain-HTTP endpoint (a staging sandbox) is forwarded by the proxy in absolute form."""
    async with Sandbox(SandboxSettings(tokens={TOKEN: []}, seed=7)) as sandbox:
        await deliver_one(sandbox.track_url, proxy=proxy.url)
        assert proxy.forwarded == [sandbox.track_url]
        assert sandbox.store.event_ids("PIX1") == ["e1"]


async def test_proxy_credentials_come_from_the_environment_and_are_never_logged(
    tls_sandbox: Sandbox, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that demands credentials gets them from the named variables; they appear in no log event, and the
    proxy sees the CONNECT only, never the access token."""
    monkeypatch.setenv("EGRESS_USER", "relay")
    monkeypatch.setenv("EGRESS_PASSWORD", "pr0xy-s3cret")
    async with ForwardProxy(credentials=("relay", "pr0xy-s3cret")) as proxy:
        with capture_logs() as logs:
            await deliver_one(
                tls_sandbox.track_url,
                proxy=proxy.url,
                proxy_username_env="EGRESS_USER",
                proxy_password_env="EGRESS_PASSWORD",
                ca_location=ca_file,
            )
    assert (proxy.refused, proxy.tunnels) == (0, [target_of(tls_sandbox)])
    assert "pr0xy-s3cret" not in repr(logs)
    assert not any(TOKEN in (authorization or "") for authorization in proxy.authorizations)


async def test_a_proxy_refusing_credentials_holds_instead_of_dead_lettering(
    tls_sandbox: Sandbox, ca_file: Path
) -> None:
    """Without the credentials it wants, the proxy answers 407 and nothing reaches TikTok."""
    async with ForwardProxy(credentials=("relay", "secret")) as proxy:
        settings = TikTokSettings(
            endpoint=tls_sandbox.track_url, allow_custom_endpoint=True, proxy=proxy.url, ca_location=ca_file
        )
        client = TikTokClient(settings)
        await client.start()
        try:
            with pytest.raises(Exception, match="407"):
                await client.track(b"{}", SecretStr(TOKEN))
        finally:
            await client.close()
    assert proxy.refused == 1
    assert tls_sandbox.store.counts()["requests"] == 0


def test_a_missing_proxy_credential_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The named variables are read at start-up: an unset one is a configuration error naming the key."""
    monkeypatch.delenv("EGRESS_USER", raising=False)
    settings = TikTokSettings(
        proxy="http://proxy:3128", proxy_username_env="EGRESS_USER", proxy_password_env="EGRESS_PASSWORD"
    )
    with pytest.raises(ConfigError, match=r"EGRESS_USER \(tiktok.proxy_username_env\)"):
        TikTokClient(settings)


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ("http://user:pw@proxy:3128", "credentials do not belong in the URL"),
        ("proxy:3128", "must be http://host:port"),
    ],
)
def test_proxy_url_is_validated(proxy: str, message: str) -> None:
    """A proxy URL carrying credentials, or without a scheme, is refused at load time."""
    with pytest.raises(ValidationError, match=message):
        TikTokSettings(proxy=proxy)
