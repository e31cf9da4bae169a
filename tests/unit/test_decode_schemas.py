"""The reference schemas (documented field by field, evolvable) and local .avsc loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumer.decode.schemas import load_schema_file
from consumer.demo.samples import (
    CONSENT_DECISION_SCHEMA,
    REFERENCE_SCHEMAS,
    reference_schema,
    reference_schema_dir,
    reference_schema_path,
)
from consumer.errors import ConfigError

REFERENCE_FILES = sorted(reference_schema_dir().glob("*.avsc"))


def named_types(node: Any) -> Iterator[dict[str, Any]]:
    """Every record, enum and fixed definition in a raw schema, outermost first."""
    if isinstance(node, list):
        for branch in node:
            yield from named_types(branch)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed"):
            yield node
        for child in (node.get("type"), node.get("items"), node.get("values")):
            yield from named_types(child)
        for field in node.get("fields", []):
            yield from named_types(field)


def test_every_reference_schema_file_is_known() -> None:
    """The schemas/ folder holds exactly the files the samples know, so none goes undocumented or untested."""
    known = {name for files in REFERENCE_SCHEMAS.values() for name in files} | {CONSENT_DECISION_SCHEMA}
    assert {path.name for path in REFERENCE_FILES} == known


@pytest.mark.parametrize("path", REFERENCE_FILES, ids=lambda path: path.name)
def test_every_type_and_field_has_a_doc(path: Path) -> None:
    """Each record, enum and field carries a non-empty "doc" attribute."""
    undocumented = []
    for named in named_types(json.loads(path.read_text())):
        if not named.get("doc"):
            undocumented.append(named["name"])
        undocumented += [f"{named['name']}.{f['name']}" for f in named.get("fields", []) if not f.get("doc")]
    assert undocumented == []


@pytest.mark.parametrize(
    ("name", "namespace"),
    [
        ("OrderPlaced", "com.example.commerce"),
        ("OrderPaid", "com.example.commerce"),
        ("LeadSubmitted", "com.example.crm"),
        ("LeadStatusChanged", "com.example.crm"),
    ],
)
def test_reference_schema_has_its_full_name(name: str, namespace: str) -> None:
    """Each schema lives in its own domain's namespace; the full name is what DomainRecord.schema_name reports."""
    assert reference_schema(name).name == f"{namespace}.{name}"


def test_order_paid_v2_adds_two_optional_fields_to_v1() -> None:
    """v2 is v1 plus customer_segment and predicted_ltv, both nullable with a null default (compatible both ways)."""
    v1 = json.loads(reference_schema_path("OrderPaid", 1).read_text())
    v2 = json.loads(reference_schema_path("OrderPaid", 2).read_text())
    v1_fields = {field["name"]: field for field in v1["fields"]}
    added = [field for field in v2["fields"] if field["name"] not in v1_fields]
    assert [(f["name"], f["type"], f["default"]) for f in added] == [
        ("customer_segment", ["null", "string"], None),
        ("predicted_ltv", ["null", "double"], None),
    ]
    assert all(field == v1_fields[field["name"]] for field in v2["fields"] if field["name"] in v1_fields)


def test_missing_schema_file_is_a_config_error(tmp_path: Path) -> None:
    """A configured .avsc that does not exist fails the start-up, naming the file."""
    with pytest.raises(ConfigError, match=r"nope\.avsc"):
        load_schema_file(tmp_path / "nope.avsc")


def test_invalid_schema_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that is not an Avro schema fails the start-up, naming the file."""
    path = tmp_path / "broken.avsc"
    path.write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuchtype"}]}')
    with pytest.raises(ConfigError, match=r"broken\.avsc: not a valid Avro schema"):
        load_schema_file(path)


def test_non_record_schema_file_is_a_config_error(tmp_path: Path) -> None:
    """Domain events are records; a schema of another type is refused."""
    path = tmp_path / "string.avsc"
    path.write_text('"string"')
    with pytest.raises(ConfigError, match="not an Avro record schema"):
        load_schema_file(path)


def test_schema_files_are_parsed_once() -> None:
    """Loading the same file twice returns the same parsed schema: nothing is re-parsed per topic or message."""
    path = reference_schema_path("OrderPlaced")
    assert load_schema_file(path) is load_schema_file(path)


@pytest.mark.parametrize("path", REFERENCE_FILES, ids=lambda path: path.name)
def test_docs_describe_every_field(path: Path) -> None:
    """docs/schemas.md has a table row for every field of every reference schema, so the docs cannot fall behind."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "schemas.md").read_text()
    fields = {field["name"] for named in named_types(json.loads(path.read_text())) for field in named.get("fields", [])}
    assert sorted(name for name in fields if f"| `{name}` |" not in docs) == []
