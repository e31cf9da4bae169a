"""docs/configuration.md, generated from the typed config model (``consumer.config.RelayConfig``), so the
reference cannot drift from the code: every section and key with its type, default and description.

    python -m tools.config_reference          # rewrite docs/configuration.md
    python -m tools.config_reference --check  # exit 1 if the committed file differs from the model
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from consumer.config import ENV_PREFIX, RelayConfig

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "docs" / "configuration.md"
HEADER = f"""# Configuration reference

<!-- Generated from consumer/config.py and the stages' settings.py by `python -m tools.config_reference`;
tests/unit/test_config_reference.py fails when this file and the model differ. Do not edit by hand. -->

Every key of the config file (`tiktok-relay run --config FILE`), section by section, as the typed model validates
it. A key can be overridden from the environment: `{ENV_PREFIX}` + the path in upper case with `__` between levels,
e.g. `{ENV_PREFIX}KAFKA__BOOTSTRAP_SERVERS`. Secrets are never keys: the `*_env` keys name the environment variables
that hold them. `[]` marks a list item, `{{*}}` a map value.
"""


def _model_in(annotation: Any) -> tuple[type[BaseModel], str] | None:  # noqa: PLR0911 - one exit per type form
    """The model a field holds (directly, optionally, as list items or map values) and the path suffix to it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _model_in(args[0])
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _model_in(arg)
            if found is not None:
                return found
        return None
    if origin is list and args:
        found = _model_in(args[0])
        return (found[0], "[]" + found[1]) if found else None
    if origin is dict and len(args) == 2:
        found = _model_in(args[1])
        return (found[0], ".{*}" + found[1]) if found else None
    return None


def type_name(annotation: Any) -> str:  # noqa: PLR0911 - one exit per type form reads best
    """A short, readable name of a field's type."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{arg}`" for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_name(arg) for arg in args)
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {type_name(args[0])} to {type_name(args[1])}" if args else "map"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation))


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "section" if isinstance(value, BaseModel) else f"`{value!r}`"
    if field.default is PydanticUndefined or field.default is None:
        return "null" if field.default is None else ""
    if isinstance(field.default, Enum):
        return f"`{field.default.value}`"
    return f"`{field.default!r}`" if not isinstance(field.default, str) else f"`{field.default}`"


def rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, str, str, str]]:
    """(key path, type, default, description) for every field of ``model``, nested models after their parent."""
    nested: list[tuple[type[BaseModel], str]] = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        yield path, type_name(field.annotation), default_text(field), description
        found = _model_in(field.annotation)
        if found is not None:
            nested.append((found[0], path + found[1]))
    for sub_model, sub_prefix in nested:
        yield from rows(sub_model, sub_prefix)


def render() -> str:
    out = [HEADER]
    for name, field in RelayConfig.model_fields.items():
        if field.exclude:
            continue
        found = _model_in(field.annotation)
        out.append(f"\n## `{name}`\n")
        doc = (found[0].__doc__ or "").strip() if found else ""
        if doc and found is not None and found[0].__doc__ is not BaseModel.__doc__:
            out.append(" ".join(doc.split()) + "\n")
        out.append("\n| key | type | default | description |\n|---|---|---|---|\n")
        table = [(name, type_name(field.annotation), default_text(field), " ".join((field.description or "").split()))]
        if found is not None:
            table += list(rows(found[0], name + found[1]))
        out += [f"| `{key}` | {kind} | {default} | {description} |\n" for key, kind, default, description in table]
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.config_reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/configuration.md is not up to date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python -m tools.config_reference", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
