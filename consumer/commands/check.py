"""`tiktok-relay check`: check a deployment before it runs, with the service's own config, secrets and principal.

One line per check (``ok`` or ``FAIL``, what was checked, what was found), then a summary naming what failed. In
order: the config file is valid; the brokers answer; every routed topic exists and may be read; the consumer
group may be used; every dead-letter topic and the audit topic exists and may be written, or may be created; the
schema registry answers for each registry-decoded topic's subject; each destination's access token is accepted by
TikTok (a request that records nothing). Nothing is consumed, produced, created or committed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence

from consumer.config import RelayConfig, config_path_from, load_config
from consumer.errors import ConfigError
from consumer.mapping.translator import Translator
from consumer.preflight.kafka import kafka_checks
from consumer.preflight.registry import registry_checks
from consumer.preflight.result import CheckResult, failed, format_result, passed, summary
from consumer.preflight.tiktok import tiktok_checks
from consumer.sending.tokens import TokenStore

EXIT_CODES = """exit codes:
  0  every check passed
  1  at least one check failed (the last line names them)
  2  the config file is missing or invalid (nothing else was checked)
"""
PARTS = ("kafka", "registry", "tiktok")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES
    parser.add_argument("--config", metavar="FILE", help="the service config (YAML); default: $RELAY_CONFIG")
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds each Kafka request may take (default 10)"
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=PARTS,
        default=[],
        help="leave out a group of checks (repeatable), e.g. tiktok where the check runs without egress",
    )


def run_checks(config: RelayConfig, skip: Sequence[str], timeout_s: float) -> list[CheckResult]:
    """Every check after the config's, in order."""
    topics = Translator(config.translation).topics
    results: list[CheckResult] = []
    if "kafka" not in skip:
        results += kafka_checks(config, topics, timeout_s)
    if "registry" not in skip:
        results += registry_checks(config.schemas, topics, config.resolve_path, os.environ)
    if "tiktok" not in skip:
        try:
            results += asyncio.run(tiktok_checks(config.tiktok, config.routes, TokenStore.from_env()))
        except ConfigError as error:
            results.append(failed("tiktok", str(error)))
    return results


def main(args: argparse.Namespace) -> int:
    try:
        path = config_path_from(args.config)
        config = load_config(path)
    except ConfigError as error:
        # One line per check: the config error's key lines are joined with "; ".
        result = failed("config", str(error).replace(":\n  ", ": ").replace("\n  ", "; "))
        print(format_result(result))
        print(summary([result]))
        return 2
    results = [passed("config", f"{path} is valid ({len(config.routes)} routes)")]
    results += run_checks(config, args.skip, args.timeout)
    for result in results:
        print(format_result(result))
    print(summary(results))
    return 0 if all(result.ok for result in results) else 1
