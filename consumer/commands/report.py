"""`tiktok-relay report`: not built yet."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def main(args: argparse.Namespace) -> int:
    del args
    print("tiktok-relay report: not implemented yet", file=sys.stderr)
    return 2
