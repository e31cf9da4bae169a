"""Imports run one way: a module of ``consumer/`` may import only from its own layer and the layers below it.

``LAYERS`` is the one table of the rule (docs/architecture.md explains it): lowest layer first, each naming the
packages and modules in it. A module belongs to the most specific entry that names it or its package, so a package
can sit in one layer and some of its modules in another (``consumer.sending`` is pure, its HTTP client and sender
are edges). Every module must be placed: a new package or top-level module fails here until it has an entry.
``consumer.config`` sits in the composition root, so a stage that imports the whole configuration fails as an
upward import. Entries for packages that do not exist yet are allowed (the table lists where they will go).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "consumer"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("leaf", ("consumer", "consumer.model", "consumer.errors", "consumer.backoff", "consumer.times")),
    ("observability", ("consumer.observability",)),
    ("fields", ("consumer.fields",)),
    (
        "stages",
        (
            "consumer.decode",
            "consumer.policy",
            "consumer.consent_table",
            "consumer.batching",
            "consumer.settlement",
            "consumer.sending",
            "consumer.deadletter.record",
            "consumer.deadletter.faults",
            "consumer.deadletter.settings",
            "consumer.kafka.settings",
            "consumer.intake.backpressure",
        ),
    ),
    ("mapping", ("consumer.mapping",)),
    (
        "edges",
        (
            "consumer.kafka",
            "consumer.intake",
            "consumer.sending.client",
            "consumer.sending.sender",
            "consumer.sending.driver",
            "consumer.sending.job",
            "consumer.sending.outcomes",
            "consumer.sending.holds",
            "consumer.deadletter",
            "consumer.consent_table.reader",
        ),
    ),
    ("triage", ("consumer.triage",)),
    ("pipeline", ("consumer.pipeline",)),
    ("composition root", ("consumer.config", "consumer.app")),
    (
        "tools",
        (
            "consumer.commands",
            "consumer.dlq",
            "consumer.report",
            "consumer.preflight",
            "consumer.sandbox",
            "consumer.demo",
            "consumer.cli",
            "consumer.__main__",
        ),
    ),
)

LAYER_OF: dict[str, int] = {entry: index for index, (_, entries) in enumerate(LAYERS) for entry in entries}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """The layer of the most specific entry naming ``module`` or a package above it (the root package ``consumer``
    names only its own ``__init__``); ``None`` when no entry does."""
    name = module
    while name != "consumer":
        if name in LAYER_OF:
            return LAYER_OF[name]
        name = name.rpartition(".")[0]
    return LAYER_OF["consumer"] if module == "consumer" else None


def imported_modules(path: Path) -> set[str]:
    """The ``consumer`` modules ``path`` imports anywhere in it (also inside functions and ``TYPE_CHECKING``);
    ``from package import name`` counts as the module ``package.name`` when that is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name == "consumer" or name.startswith("consumer.")}


def upward_imports() -> list[str]:
    problems = []
    for module, path in MODULES.items():
        own = layer_of(module)
        assert own is not None, f"{module} is in no layer: add it to LAYERS here and to docs/architecture.md"
        for imported in sorted(imported_modules(path)):
            theirs = layer_of(imported)
            assert theirs is not None, f"{module} imports {imported}, which is in no layer"
            if theirs > own:
                problems.append(
                    f"{module} (layer {LAYERS[own][0]}) imports {imported} (layer {LAYERS[theirs][0]}, above it)"
                )
    return problems


def test_every_module_is_in_a_layer() -> None:
    """Each module of the package is placed in exactly one layer of the table."""
    unplaced = [module for module in MODULES if layer_of(module) is None]
    assert unplaced == [], f"add these to LAYERS in {Path(__file__).name} and to docs/architecture.md: {unplaced}"


def test_no_module_imports_from_a_higher_layer() -> None:
    """A module imports only from its own layer and the layers below it; the message names both modules and both
    layers of every upward import."""
    problems = upward_imports()
    assert problems == [], "imports that run upward:\n  " + "\n  ".join(problems)


def test_no_entry_is_in_two_layers() -> None:
    """No package or module is listed twice (which layer would win would depend on the table's order)."""
    entries = [entry for _, names in LAYERS for entry in names]
    assert sorted({entry for entry in entries if entries.count(entry) > 1}) == []
