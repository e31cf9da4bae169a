"""`tiktok-relay run`: the relay service, until SIGTERM or SIGINT (then it drains, commits and exits 0).

The config file comes from ``--config FILE`` or ``RELAY_CONFIG``; ``RELAY_``-prefixed variables override its keys.
Access tokens come from ``TIKTOK_ACCESS_TOKEN`` / ``TIKTOK_ACCESS_TOKEN_<EVENT_SOURCE_ID>``. Exit codes: 0 after a
clean stop, 2 for a configuration error, 1 when the service failed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog

from consumer.app import RelayService
from consumer.config import RelayConfig, config_path_from, load_config
from consumer.errors import ConfigError
from consumer.observability.logging import configure_logging

log = structlog.get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="the service config (YAML); default: $RELAY_CONFIG")


async def serve(config: RelayConfig) -> None:
    """Run the service until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    service = RelayService(config)
    await service.run(stop)


def main(args: argparse.Namespace) -> int:
    try:
        config = load_config(config_path_from(args.config))
    except ConfigError as error:
        print(f"tiktok-relay run: {error}", file=sys.stderr)
        return 2
    configure_logging(config.observability.log_format, config.observability.log_level)
    try:
        asyncio.run(serve(config))
    except ConfigError as error:
        print(f"tiktok-relay run: {error}", file=sys.stderr)
        return 2
    except Exception:  # the process ends here: log why, exit non-zero
        log.exception("relay_failed")
        return 1
    return 0
