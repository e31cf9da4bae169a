"""`tiktok-relay sandbox`: run the local TikTok Events API double until SIGINT or SIGTERM.

The first line on stdout is the track URL to configure as ``tiktok.endpoint``; logs go to stderr. Settings come
from ``--config FILE`` (YAML, the ``SandboxSettings`` shape, for outages and scripts), overridden by the flags.
Tokens come from ``--token`` or, better (a command line is visible to other users), ``TIKTOK_SANDBOX_TOKENS``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
import yaml
from pydantic import ValidationError

from consumer.observability.logging import configure_logging
from consumer.sandbox.server import Sandbox
from consumer.sandbox.settings import SandboxSettings

TOKENS_ENV = "TIKTOK_SANDBOX_TOKENS"
DEFAULT_PORT = 18080

log = structlog.get_logger(__name__)

# Fault flags: argparse destination -> FaultSettings field.
_FAULT_FLAGS = {
    "latency_ms": "latency_ms",
    "latency_jitter_ms": "latency_jitter_ms",
    "error_rate": "error_rate",
    "error_code": "error_code",
    "http_error_rate": "http_error_rate",
    "http_error_status": "http_error_status",
    "timeout_rate": "timeout_rate",
    "timeout_hang_s": "timeout_hang_s",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (default: %(default)s)")
    parser.add_argument("--config", type=Path, help="YAML file of sandbox settings (tokens, limits, faults)")
    parser.add_argument(
        "--token",
        action="append",
        metavar="TOKEN[:ID,ID...]",
        help=f"accept TOKEN, for the listed event_source_ids only if given; repeatable. Default: ${TOKENS_ENV} "
        "(space-separated entries of the same form); with neither, any non-empty token is accepted",
    )
    parser.add_argument("--rate-limit", type=int, help="requests per second per token before 40100; 0: no limit")
    parser.add_argument("--latency-ms", type=float, help="simulated round trip added to every request")
    parser.add_argument("--latency-jitter-ms", type=float, help="uniform extra latency up to this")
    parser.add_argument("--error-rate", type=float, help="share of requests answered with --error-code")
    parser.add_argument("--error-code", type=int, help="body code for --error-rate (default 50000)")
    parser.add_argument("--http-error-rate", type=float, help="share of requests answered with --http-error-status")
    parser.add_argument("--http-error-status", type=int, help="HTTP status for --http-error-rate (default 503)")
    parser.add_argument("--timeout-rate", type=float, help="share of requests that hang until the client times out")
    parser.add_argument("--timeout-hang-s", type=float, help="how long a hanging request hangs (default 30)")
    parser.add_argument("--seed", type=int, help="seed of the fault-injection draws (reproducible runs)")
    parser.add_argument("--max-recorded-events", type=int, help="recent events kept for /_sandbox/events")
    parser.add_argument("--log-format", choices=("json", "console"), default="console")


def parse_token_spec(spec: str) -> tuple[str, list[str]]:
    """``"tok:ID1,ID2"`` -> ``("tok", ["ID1", "ID2"])``; ``"tok"`` -> ``("tok", [])`` (all event sources)."""
    token, _, ids = spec.partition(":")
    if not token:
        raise ValueError("a --token entry has an empty token")
    return token, [item for item in ids.split(",") if item]


def build_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> SandboxSettings:
    """The config file's settings with the flags (and ``TIKTOK_SANDBOX_TOKENS``) laid over them."""
    data: dict[str, Any] = {}
    if args.config is not None:
        data = yaml.safe_load(args.config.read_text(encoding="utf-8")) or {}
    specs: Sequence[str] = args.token or environ.get(TOKENS_ENV, "").split()
    if specs:
        data["tokens"] = dict(parse_token_spec(spec) for spec in specs)
    if args.rate_limit is not None:
        data["rate_limit_rps"] = args.rate_limit or None
    for flag, key in (("seed", "seed"), ("max_recorded_events", "max_recorded_events")):
        if getattr(args, flag) is not None:
            data[key] = getattr(args, flag)
    faults = dict(data.get("faults") or {})
    faults.update({key: getattr(args, flag) for flag, key in _FAULT_FLAGS.items() if getattr(args, flag) is not None})
    data["faults"] = faults
    return SandboxSettings.model_validate(data)


async def serve(settings: SandboxSettings, host: str, port: int) -> None:
    """Run the sandbox until SIGINT or SIGTERM."""
    sandbox = Sandbox(settings)
    await sandbox.start(host, port)
    print(sandbox.track_url, flush=True)
    tokens = "any" if settings.tokens is None else len(settings.tokens)
    log.info(
        "sandbox_started",
        port=sandbox.base_url.rsplit(":", 1)[1],
        tokens=tokens,
        rate_limit_rps=settings.rate_limit_rps,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await sandbox.stop()
        counts = sandbox.store.counts()
        log.info("sandbox_stopped", **{key: counts[key] for key in ("requests", "accepted", "duplicates")})


def main(args: argparse.Namespace) -> int:
    try:
        settings = build_settings(args, os.environ)
    except (OSError, ValueError, yaml.YAMLError) as error:
        # pydantic's ValidationError is a ValueError; its text names the bad key
        message = str(error) if not isinstance(error, ValidationError) else f"invalid sandbox settings: {error}"
        print(f"tiktok-relay sandbox: {message}", file=sys.stderr)
        return 2
    configure_logging(args.log_format)
    asyncio.run(serve(settings, args.host, args.port))
    return 0
