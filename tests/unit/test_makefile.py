"""`make demo` on a fresh clone needs the venv and the broker jars only: neither Go (helm) nor Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Path:
    """The files the Makefile's recipes depend on, without .venv or .cache: what a fresh clone has."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "tools/kafka/pom.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def planned(clone: Path, target: str) -> str:
    """The commands `make -n TARGET` would run on the clone (nothing runs)."""
    done = subprocess.run(["make", "-n", target], cwd=clone, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_needs_neither_go_nor_chromium(fresh_clone: Path) -> None:
    plan = planned(fresh_clone, "demo")
    assert "pip install" in plan and "mvn" in plan and "tiktok-relay demo" in plan
    assert "go install" not in plan
    assert "chromium" not in plan


def test_tests_still_install_helm_and_chromium(fresh_clone: Path) -> None:
    plan = planned(fresh_clone, "test")
    assert "go install helm.sh/helm" in plan
    assert "chromium" in plan
