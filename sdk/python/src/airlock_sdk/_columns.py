"""Python values to the contract's cells: a table's pending rows turned into
one buffer per column (`upsert-columns`), or into single values.

Pure: it returns plain tuples, which `_output` wraps in the bindings' types,
so a plain Python can test it.
"""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from itertools import accumulate
from typing import Any, Sequence

from ._types import ColumnType

_NONE = type(None)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_BYTES = (bytes, bytearray, memoryview)


class Mismatch(Exception):
    """A column holds a value its type does not take; the rows go to the host
    as rows instead, and the host says which row and column is wrong."""


def micros(v: _dt.datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if v.tzinfo is None:
        v = v.replace(tzinfo=_dt.timezone.utc)
    d = v - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def days(v: _dt.date) -> int:
    """Days since the epoch."""
    return v.toordinal() - _EPOCH_ORDINAL


def decimal_text(v: Any) -> str:
    """Plain notation ("-12.50") of a Decimal, int or str (str is passed through)."""
    if type(v) is str:
        return v
    if type(v) is Decimal:
        return format(v, "f")
    return str(v)


def json_text(v: Any) -> str:
    """JSON text: a str is taken as JSON already, anything else is dumped."""
    if type(v) is str:
        return v
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


# For each column type: the Python types its cells may have (besides None),
# the contract's case name, and how a non-null value becomes a slot (None
# when the value already is one).
_RULES: dict[str, tuple[frozenset, str, Any]] = {
    "boolean": (frozenset({bool}), "boolean", None),
    "int": (frozenset({int}), "int", None),
    "float": (frozenset({float, int}), "float", float),
    "text": (frozenset({str}), "text", str.encode),
    "bytes": (frozenset(_BYTES), "bytes", bytes),
    "timestamp": (frozenset({_dt.datetime, int}), "timestamp", lambda v: v if type(v) is int else micros(v)),
    "date": (frozenset({_dt.date, int}), "date", lambda v: v if type(v) is int else days(v)),
    "decimal": (frozenset({Decimal, int, str}), "decimal", lambda v: decimal_text(v).encode()),
    "json": (None, "json", lambda v: json_text(v).encode()),
}
_STR = {str}
_FILL = {"boolean": False, "int": 0, "float": 0.0, "timestamp": 0, "date": 0}
_BLOBS = {"text", "bytes", "decimal", "json"}


def column(ctype: ColumnType, values: Sequence[Any]) -> tuple[list[bool], str, Any]:
    """One column's cells as (valid flags, case, slots): flags empty when no
    cell is null; slots a list, or (data, ends) for text-like cases; case
    "null" when every cell is. Raises `Mismatch` for a value of another type."""
    allowed, case, convert = _RULES[ctype.name]
    present = set(map(type, values))
    has_null = _NONE in present
    if has_null:
        present.discard(_NONE)
        if not present:
            return [], "null", None
    if allowed is not None and not present <= allowed:
        raise Mismatch()
    if case in ("date", "timestamp") and bool in present:
        raise Mismatch()
    valid: list[bool] = [v is not None for v in values] if has_null else []
    if case in _BLOBS:
        if has_null:
            parts = [b"" if v is None else convert(v) for v in values]
        elif case == "bytes":
            parts = [v if type(v) is bytes else bytes(v) for v in values]
        elif present == _STR:
            # Text, and decimals or JSON given as text: no conversion but UTF-8.
            parts = [v.encode() for v in values]
        else:
            parts = [convert(v) for v in values]
        ends = list(accumulate(map(len, parts)))
        return valid, case, (b"".join(parts), ends)
    if has_null:
        fill = _FILL[case]
        if convert is None:
            data = [fill if v is None else v for v in values]
        else:
            data = [fill if v is None else convert(v) for v in values]
    elif convert is None:
        data = list(values)
    elif case == "float" and present == {float}:
        data = list(values)
    elif case in ("date", "timestamp") and present == {int}:
        data = list(values)
    else:
        data = [convert(v) for v in values]
    return valid, case, data


def value(v: Any, ctype: ColumnType | None = None) -> tuple[str, Any]:
    """One cell as (case, payload). With the column's type, a value it takes
    is converted to it; otherwise (or without a type) the case follows the
    Python type, so the host can name what does not match."""
    if v is None:
        return "null", None
    if ctype is not None:
        allowed, case, convert = _RULES[ctype.name]
        if (allowed is None or type(v) in allowed) and not (case in ("date", "timestamp") and type(v) is bool):
            out = v if convert is None else convert(v)
            if case in _BLOBS and case != "bytes":
                out = out.decode()
            return case, out
    t = type(v)
    if t is bool:
        return "boolean", v
    if t is int:
        return "int", v
    if t is float:
        return "float", v
    if t is str:
        return "text", v
    if t in _BYTES:
        return "bytes", bytes(v)
    if t is _dt.datetime:
        return "timestamp", micros(v)
    if t is _dt.date:
        return "date", days(v)
    if t is Decimal:
        return "decimal", decimal_text(v)
    return "json", json_text(v)
