"""`tiktok-relay demo`: the whole pipeline on this machine (``make demo`` starts the broker and passes its address).

Starts the TikTok sandbox and the relay service in this process against the given broker, produces sample web
order, lead and in-app order events (some with consent denied, some malformed, some too old) and prints where each
one ended:
``demo: produced=N delivered=N consent_dropped=N dead_lettered=N lost=0 app_orders=N app_delivered=N``. Exits 0
when nothing was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from consumer.demo.run import run_demo
from consumer.observability.logging import configure_logging


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("RELAY_KAFKA__BOOTSTRAP_SERVERS"),
        help="the Kafka broker to use (default: $RELAY_KAFKA__BOOTSTRAP_SERVERS; `make demo` starts one)",
    )
    parser.add_argument("--events", type=int, default=200, help="sample events to produce (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for every outcome")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="warning", help="service log level"
    )


def main(args: argparse.Namespace) -> int:
    if not args.bootstrap_servers:
        print(
            "tiktok-relay demo: pass --bootstrap-servers (or run `make demo`, which starts a broker)", file=sys.stderr
        )
        return 2
    configure_logging("console", args.log_level)
    summary = asyncio.run(run_demo(args.bootstrap_servers, events=args.events, timeout_s=args.timeout, progress=print))
    print(summary.line(), flush=True)
    return 0 if summary.lost == 0 else 1
