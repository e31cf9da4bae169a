"""The container image: the Dockerfile lints, and the wheel it builds installs into a clean venv and starts.

No Docker engine runs here, so the build stage is replayed outside one: the files the Dockerfile copies are put
into a fresh build context and the stage's own build command runs there (`python -m build --wheel`, a venv without
pip, the wheel installed into it with constraints.txt and binary wheels only). One build serves the whole module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
VENV_BIN = Path(sys.executable).parent


@dataclass
class Stage:
    """One FROM stage of the Dockerfile: its base, its name and its instructions (keyword, arguments)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [arguments for word, arguments in self.instructions if word == keyword]


def dockerfile_lines() -> list[str]:
    """Logical lines: comments dropped, backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def dockerfile_stages() -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, in order."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in dockerfile_lines():
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            stages.append(Stage(base=words[0], name=words[2] if len(words) == 3 else None))
        elif stages:
            stages[-1].instructions.append((keyword, arguments))
        elif keyword == "ARG":
            name, _, default = arguments.partition("=")
            global_args[name] = default
    return global_args, stages


def copied_sources(stage: Stage) -> list[str]:
    """Sources of the stage's COPY instructions that come from the build context (not --from another stage)."""
    sources: list[str] = []
    for arguments in stage.arguments("COPY"):
        words = arguments.split()
        if not any(word.startswith("--from=") for word in words):
            sources += [word for word in words[:-1] if not word.startswith("--")]
    return sources


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (from the venv) finds nothing to report."""
    hadolint = VENV_BIN / "hadolint"
    assert hadolint.is_file(), f"hadolint missing from the venv ({hadolint}): install the dev extra"
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_uses_the_base_pinned_by_tag_and_digest() -> None:
    """Both stages start from python:3.11.<patch>-slim-bookworm pinned by its sha256 digest."""
    global_args, stages = dockerfile_stages()
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", global_args["PYTHON_IMAGE"])
    assert [stage.base for stage in stages] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def test_runtime_stage_runs_tiktok_relay_as_a_non_root_user() -> None:
    """The final stage switches to a numeric non-root user and runs `tiktok-relay run` by default."""
    _, stages = dockerfile_stages()
    runtime = stages[-1]
    user, _, group = runtime.arguments("USER")[-1].partition(":")
    assert user.isdigit() and int(user) > 0 and group.isdigit()
    assert json.loads(runtime.arguments("ENTRYPOINT")[-1]) == ["tiktok-relay"]
    assert json.loads(runtime.arguments("CMD")[-1]) == ["run"]


def test_runtime_stage_takes_only_the_built_environment() -> None:
    """The final stage copies nothing from the build context: only the venv built in the first stage."""
    _, stages = dockerfile_stages()
    build, runtime = stages
    assert copied_sources(runtime) == []
    assert runtime.arguments("COPY") == [f"--from={build.name} /opt/tiktok-relay /opt/tiktok-relay"]


def test_runtime_stage_carries_the_oci_labels() -> None:
    """The image is labelled with the OCI annotation keys a registry and a scanner read."""
    _, stages = dockerfile_stages()
    labels = " ".join(stages[-1].arguments("LABEL"))
    for key in ("title", "description", "version", "revision", "created", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_build_installs_with_the_pinned_constraints() -> None:
    """The build stage installs the wheel with constraints.txt and binary wheels only."""
    _, stages = dockerfile_stages()
    runs = " ".join(stages[0].arguments("RUN"))
    assert "python -m build --wheel" in runs
    assert "--only-binary=:all:" in runs
    assert "--constraint constraints.txt" in runs


def test_build_context_admits_exactly_what_the_dockerfile_copies() -> None:
    """.dockerignore excludes everything, then admits each file the Dockerfile copies, and nothing else."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    _, stages = dockerfile_stages()
    admitted = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    assert patterns[0] == "*"
    assert admitted == {source.rstrip("/") for source in copied_sources(stages[0])}


@dataclass(frozen=True)
class InstalledImage:
    """The venv the image would carry, and where it was built."""

    venv: Path
    home: Path

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv with a bare environment (no RELAY_ variables from the test run)."""
        environment = {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home), **(env or {})}
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env=environment,
        )


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> InstalledImage:
    """Replay the Dockerfile's build stage: a context of exactly the copied files, then the stage's last RUN (build
    the wheel, make the venv, install), with its /dist and /opt/tiktok-relay moved into a temporary directory and
    the dev venv's python, pip and build standing in for the base image's."""
    work = tmp_path_factory.mktemp("image")
    context, dist, venv = work / "context", work / "dist", work / "venv"
    _, stages = dockerfile_stages()
    for source in copied_sources(stages[0]):
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
        else:
            context.mkdir(exist_ok=True)
            shutil.copy2(origin, context / source)
    command = stages[0].arguments("RUN")[-1].replace("/dist", str(dist)).replace("/opt/tiktok-relay", str(venv))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=context,
        env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return InstalledImage(venv=venv, home=work)


def pinned_versions() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name, separator, version = line.partition("==")
        if separator and not line.startswith("#"):
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def test_installed_dependencies_are_the_pinned_versions(image: InstalledImage) -> None:
    """Every distribution in the image's venv, except the relay itself, is at its constraints.txt version."""
    listing = image.run(
        "python",
        "-c",
        "import importlib.metadata as m; print('\\n'.join(f\"{d.metadata['Name']}=={d.version}\" "
        "for d in m.distributions()))",
    )
    assert listing.returncode == 0, listing.stderr
    installed = {
        re.sub(r"[-_.]+", "-", name).lower(): version
        for name, _, version in (line.partition("==") for line in listing.stdout.split())
    }
    pins = pinned_versions()
    assert installed.pop("tiktok-events-relay") == "0.1.0"
    assert {name: pins.get(name) for name in installed} == installed


def test_image_venv_holds_no_build_or_dev_tools(image: InstalledImage) -> None:
    """No pip, setuptools, build or test tooling lands in the runtime environment."""
    bin_names = {path.name for path in (image.venv / "bin").iterdir()}
    assert not bin_names & {"pip", "pip3", "pyproject-build", "pytest", "ruff", "mypy", "hadolint"}
    probe = image.run(
        "python",
        "-c",
        "import importlib.util as u; print([m for m in ('pip', 'setuptools', 'build', 'pytest') if u.find_spec(m)])",
    )
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr


def test_help_lists_the_subcommands(image: InstalledImage) -> None:
    """`tiktok-relay --help` starts (every subcommand's module imports) and lists the subcommands."""
    result = image.run("tiktok-relay", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("run", "dlq", "sandbox", "demo", "map", "report"):
        assert command in result.stdout


def test_run_without_a_config_fails_naming_the_fix(image: InstalledImage) -> None:
    """`tiktok-relay run` with neither --config nor RELAY_CONFIG exits non-zero and says how to give one."""
    result = image.run("tiktok-relay", "run")
    assert result.returncode != 0
    assert "--config" in result.stderr
    assert "RELAY_CONFIG" in result.stderr


def test_run_with_a_missing_config_file_names_the_file(image: InstalledImage) -> None:
    """The image's RELAY_CONFIG path with nothing mounted there exits non-zero naming the missing file."""
    result = image.run("tiktok-relay", "run", env={"RELAY_CONFIG": "/etc/tiktok-relay/relay.yaml"})
    assert result.returncode != 0
    assert "config file not found: /etc/tiktok-relay/relay.yaml" in result.stderr
