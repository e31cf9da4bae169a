"""The README's examples stay true: its route snippet is a valid config and every local link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from consumer.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_route_snippet_is_a_valid_route() -> None:
    """The YAML route shown in the README passes the service's own config validation."""
    snippet = re.search(r"```yaml\n(routes:.*?)```", README.read_text(), re.S)
    assert snippet is not None
    config = parse_config({"kafka": {"bootstrap_servers": "127.0.0.1:9092"}, **yaml.safe_load(snippet.group(1))})
    assert [route.name for route in config.routes] == ["order-paid"]


def test_readme_local_links_point_at_existing_files() -> None:
    """Every relative link in the README names a file or folder of the repository."""
    targets = re.findall(r"\]\((?!https?://)([^)#]+)", README.read_text())
    assert targets
    missing = [target for target in targets if not (README.parent / target).exists()]
    assert missing == []
