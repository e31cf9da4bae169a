"""Avro logical types converted only in the fields that are read.

fastavro converts every logical value of a record as it reads it (decimal to ``Decimal``, timestamps to
``datetime``, date, time, uuid), a quarter of a read's cost for records whose routes look at one timestamp and one
amount. A read plan that knows which field paths its readers use reads with the logical types stripped from the
schema (decimals come out as bytes, timestamps as ints) and then converts the values under those paths only, with
converters compiled once per schema node (for decimals, timestamps, dates and uuids: the same arithmetic as
fastavro's readers, without looking the node's precision and scale up on every value) or else fastavro's own
(``fastavro.read.LOGICAL_READERS``, called as its reader calls them): every value read through a listed path is
exactly what a converting read gives. A path converts everything below it (``items`` converts every line item's
price).

Where the raw value alone would not tell which conversion applies (a union of several branches that hold logical
types) or a type contains itself, ``compile_conversion`` raises ``UnconvertibleSchemaError`` and the caller reads with
the logical types as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from typing import Any, Final, cast
from uuid import UUID

from fastavro import parse_schema
from fastavro.read import LOGICAL_READERS
from fastavro.schema import SchemaParseException

Convert = Callable[[Any], Any]
"""A raw value of one schema node to the value a converting read gives (containers are converted in place)."""

_WHOLE: Final = "whole"
"""A path's last step: everything below it is converted."""

PathTree = dict[str, "PathTree | str"]
_PARSED_KEYS: Final = ("__fastavro_parsed", "__named_schemas")


class UnconvertibleSchemaError(Exception):
    """The schema's logical values cannot be told apart once read raw; read it with its logical types."""


def strip_logical_types(parsed: Mapping[str, Any]) -> dict[str, Any] | None:
    """fastavro's parsed ``parsed`` without its logical types, or ``None`` when it has none (or uses named types it
    does not define itself, as registry references do: those schemas keep converting)."""
    definition = {key: value for key, value in parsed.items() if key not in _PARSED_KEYS}
    stripped = _without_logical_types(definition)
    if stripped == definition:
        return None
    try:
        return cast(dict[str, Any], parse_schema(stripped))
    except (SchemaParseException, ValueError):  # UnknownType: a name defined by a reference
        return None


def _without_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_logical_types(value) for key, value in node.items() if key != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(item) for item in node]
    return node


def compile_conversion(parsed: Mapping[str, Any], paths: Collection[str]) -> Callable[[dict[str, Any]], Any] | None:
    """The in-place conversion of the logical values under ``paths`` of a raw record of ``parsed`` (a field path as
    in ``mapping``: ``customer.email``, ``items.0.price``); ``None`` when no path reaches one."""
    named: Mapping[str, Any] = parsed.get("__named_schemas", {})
    return _converter(parsed, _tree(paths), named, frozenset())


def _tree(paths: Collection[str]) -> PathTree | str:
    """The paths as a tree of steps; a path that is a prefix of another converts the other's values too."""
    tree: PathTree = {}
    for path in sorted(paths, key=lambda p: p.count(".")):
        node: PathTree | str = tree
        *parents, last = path.split(".")
        for step in parents:
            assert isinstance(node, dict)
            node = node.setdefault(step, {})
            if node == _WHOLE:
                break
        else:
            assert isinstance(node, dict)
            node[last] = _WHOLE
    return tree


def _converter(schema: Any, tree: PathTree | str, named: Mapping[str, Any], seen: frozenset[str]) -> Convert | None:
    """How to convert a raw value of ``schema`` where ``tree`` reaches into it; ``None`` when nothing needs it."""
    if isinstance(schema, str):
        if schema not in named:
            return None  # a primitive type
        if schema in seen:
            raise UnconvertibleSchemaError(f"{schema} contains itself")
        return _converter(named[schema], tree, named, seen | {schema})
    if isinstance(schema, list):
        return _union(schema, tree, named, seen)
    kind = schema["type"]
    if not isinstance(kind, str):
        return _converter(kind, tree, named, seen)
    convert = logical_converter(schema) if "logicalType" in schema else None
    if convert is not None:  # an unknown logical type is read as its underlying type, as fastavro does
        return convert if tree == _WHOLE else None
    compound = _COMPOUND.get(kind)
    # a primitive, enum or fixed value: nothing to convert, and no step leads further
    return None if compound is None else compound(schema, tree, named, seen)


def logical_converter(schema: Mapping[str, Any]) -> Convert | None:
    """The conversion of a raw value of the logical type node ``schema``, exactly as fastavro's reader converts it;
    ``None`` for a logical type fastavro does not know."""
    key = f"{schema['type']}-{schema['logicalType']}"
    read: Callable[..., Any] | None = LOGICAL_READERS.get(key)
    if read is None:
        return None
    compiled = _COMPILED.get(key)
    if compiled is not None:
        try:
            return compiled(schema)
        except (KeyError, TypeError, ValueError):  # a precision fastavro's reader refuses: it fails at read, as now
            pass

    def convert(value: Any) -> Any:
        return read(value, schema, None)

    return convert


# Converters compiled once per schema node: called per value on the hot path, they do fastavro's readers'
# arithmetic (fastavro._logical_readers) without its per-call schema lookups; each is compared with fastavro's
# reader in tests/unit/test_decode_logical_converters.py.
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)
_MICROSECOND: Final = timedelta(microseconds=1)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def _decimal(schema: Mapping[str, Any]) -> Convert:
    # fastavro sets its shared context's precision to the node's before each read; the node's own context, set up
    # as fastavro's (a default Context given the precision), rounds alike.
    context = Context()
    context.prec = schema["precision"]
    create, exponent = context.create_decimal, -schema.get("scale", 0)
    from_bytes = int.from_bytes  # bound once: looking the classmethod up makes a bound method per call

    def convert(value: bytes) -> Decimal:
        return create(from_bytes(value, "big", signed=True)).scaleb(exponent, context)

    return convert


# fastavro adds timedelta(microseconds=value * 1000) to the epoch (not datetime.fromtimestamp: bpo-36439);
# multiplying a timedelta gives the same exact integer arithmetic (and OverflowError) without parsing arguments.
def _timestamp_millis(value: int) -> datetime:
    return _EPOCH + _MILLISECOND * value


def _timestamp_micros(value: int) -> datetime:
    return _EPOCH + _MICROSECOND * value


def _date(value: int) -> date:
    return date.fromordinal(value + _EPOCH_ORDINAL)


_COMPILED: Final[dict[str, Callable[[Mapping[str, Any]], Convert]]] = {
    "bytes-decimal": _decimal,
    "fixed-decimal": _decimal,
    "long-timestamp-millis": lambda _: _timestamp_millis,
    "long-timestamp-micros": lambda _: _timestamp_micros,
    "int-date": lambda _: _date,
    "string-uuid": lambda _: UUID,
}


def _union(branches: list[Any], tree: PathTree | str, named: Mapping[str, Any], seen: frozenset[str]) -> Convert | None:
    converters = [convert for convert in (_converter(b, tree, named, seen) for b in branches) if convert is not None]
    if not converters:
        return None
    if len([branch for branch in branches if branch != "null"]) > 1:
        raise UnconvertibleSchemaError("a union of several branches holds a logical type")
    (convert,) = converters

    def nullable(value: Any) -> Any:
        return None if value is None else convert(value)

    return nullable


def _record(
    schema: Mapping[str, Any], tree: PathTree | str, named: Mapping[str, Any], seen: frozenset[str]
) -> Convert | None:
    seen = seen | {schema["name"]}
    types = {field["name"]: field["type"] for field in schema["fields"]}
    steps: Mapping[str, PathTree | str] = (
        dict.fromkeys(types, _WHOLE)
        if isinstance(tree, str)
        else {name: sub for name, sub in tree.items() if name in types}
    )
    return _children([(name, _converter(types[name], sub, named, seen)) for name, sub in steps.items()])


def _array(
    schema: Mapping[str, Any], tree: PathTree | str, named: Mapping[str, Any], seen: frozenset[str]
) -> Convert | None:
    items = schema["items"]
    if isinstance(tree, str):
        convert_item = _converter(items, _WHOLE, named, seen)
        return None if convert_item is None else lambda value: [convert_item(item) for item in value]
    # a field path steps into an array by index only
    return _children([(int(step), _converter(items, sub, named, seen)) for step, sub in tree.items() if step.isdigit()])


def _map(
    schema: Mapping[str, Any], tree: PathTree | str, named: Mapping[str, Any], seen: frozenset[str]
) -> Convert | None:
    values = schema["values"]
    if isinstance(tree, str):
        convert_value = _converter(values, _WHOLE, named, seen)
        return None if convert_value is None else lambda value: {k: convert_value(v) for k, v in value.items()}
    return _children([(key, _converter(values, sub, named, seen)) for key, sub in tree.items()])


def _children(steps: list[tuple[Any, Convert | None]]) -> Convert | None:
    """The in-place conversion of the children that ``steps`` name (record fields, array indexes, map keys) and that
    a value has; ``None`` when no step converts anything."""
    converting = [(key, convert) for key, convert in steps if convert is not None]
    if not converting:
        return None

    def convert_children(value: Any) -> Any:
        for key, convert in converting:
            try:
                child = value[key]
            except (KeyError, IndexError):  # a map without the key, an array shorter than the index
                continue
            value[key] = convert(child)
        return value

    return convert_children


_COMPOUND: Final[
    dict[str, Callable[[Mapping[str, Any], PathTree | str, Mapping[str, Any], frozenset[str]], Convert | None]]
] = {
    "record": _record,
    "error": _record,
    "array": _array,
    "map": _map,
}
