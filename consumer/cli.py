"""The ``tiktok-relay`` command line: one subcommand per module in ``consumer.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from consumer import __version__

SUBCOMMANDS: dict[str, str] = {
    "run": "run the relay service (Kafka -> TikTok) from a config file",
    "check": "check a deployment before it runs: config, brokers, topics and ACLs, registry, TikTok tokens",
    "demo": "the whole pipeline on this machine: broker, sandbox, service, sample events",
    "map": "show the TikTok request body (or the decision that stops it) for one domain event",
    "sandbox": "run the local TikTok Events API double",
    "dlq": "inspect and replay dead-letter topics",
    "report": "identifier coverage and match-quality report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiktok-relay", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        module = importlib.import_module(f"consumer.commands.{name}")
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
