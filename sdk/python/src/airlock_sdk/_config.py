"""Typed config and state: a JSON Schema from a dataclass (what `spec`
returns) and JSON parsed into one, every failure naming the field.

Supported field types: `bool`, `int`, `float`, `str`, `Optional[T]` / `T | None`,
`list[T]`, `dict[str, T]`, `Literal[...]`, `Any`, and nested dataclasses. A
field's description is a string in `Annotated[...]`:

    users: Annotated[int, "How many users the source holds"] = 1000
"""

from __future__ import annotations

import dataclasses
import types as _pytypes
import typing
from typing import Any, Literal, Union

_NONE = type(None)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _split(tp: Any) -> tuple[Any, str | None]:
    """`Annotated[T, "doc"]` -> (T, "doc")."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        doc = next((m for m in meta if isinstance(m, str)), None)
        return base, doc
    return tp, None


def _optional(tp: Any) -> tuple[Any, bool]:
    """`Optional[T]` -> (T, True); anything else -> (tp, False)."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is _pytypes.UnionType:
        args = [a for a in typing.get_args(tp) if a is not _NONE]
        if len(args) < len(typing.get_args(tp)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True
    return tp, False


def _doc(cls: type) -> str | None:
    doc = cls.__doc__
    # A dataclass without a docstring gets its signature as one: not a description.
    if not doc or doc.startswith(cls.__name__ + "("):
        return None
    return " ".join(doc.split())


def schema_of(cls: type | None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config dataclass; `None` is any object."""
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    if cls is None:
        schema.update({"title": "Config", "type": "object"})
        return schema
    schema["title"] = cls.__name__
    schema.update(_object_schema(cls))
    return schema


def _object_schema(cls: type) -> dict[str, Any]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass: declare config and state with @dataclass")
    hints = _hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        tp, doc = _split(hints[f.name])
        prop = _type_schema(tp)
        if doc:
            prop["description"] = doc
        if f.default is not dataclasses.MISSING and _jsonable(f.default):
            prop["default"] = f.default
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        props[f.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    doc = _doc(cls)
    if doc:
        out["description"] = doc
    return out


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _type_schema(tp: Any) -> dict[str, Any]:
    tp, _ = _split(tp)
    inner, optional = _optional(tp)
    if optional:
        s = _type_schema(inner)
        t = s.get("type")
        if isinstance(t, str):
            s["type"] = [t, "null"]
        else:
            s = {"anyOf": [s, {"type": "null"}]}
        return s
    origin = typing.get_origin(tp)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if tp is Any:
        return {}
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        return {"type": "array", "items": _type_schema(item)}
    if origin is dict:
        _, value = typing.get_args(tp) or (str, Any)
        return {"type": "object", "additionalProperties": _type_schema(value)}
    if origin is Literal:
        return {"enum": list(typing.get_args(tp))}
    if dataclasses.is_dataclass(tp):
        return _object_schema(tp)
    raise TypeError(f"config field type {tp!r} is not supported (use bool, int, float, str, "
                    "Optional, list, dict, Literal, Any or a dataclass)")


class ParseError(Exception):
    """Where (a dotted path, empty for the top) and what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(problem)
        self.path = path
        self.problem = problem

    def __str__(self) -> str:
        return f"at `{self.path}`: {self.problem}" if self.path else self.problem


def _kind(v: Any) -> str:
    """What a JSON value is, without its contents (a config may hold secrets)."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def parse(cls: type | None, data: Any) -> Any:
    """`data` (parsed JSON) as an instance of dataclass `cls`; `None` keeps the dict."""
    if cls is None:
        if not isinstance(data, dict):
            raise ParseError("", f"expected an object, got {_kind(data)}")
        return data
    return _value(cls, data, "")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _value(tp: Any, v: Any, path: str) -> Any:
    tp, _ = _split(tp)
    inner, optional = _optional(tp)
    if optional:
        return None if v is None else _value(inner, v, path)
    origin = typing.get_origin(tp)
    if tp is Any:
        return v
    if tp is bool:
        if type(v) is bool:
            return v
        raise ParseError(path, f"expected a boolean, got {_kind(v)}")
    if tp is int:
        if type(v) is int:
            return v
        raise ParseError(path, f"expected an integer, got {_kind(v)}")
    if tp is float:
        if type(v) in (int, float):
            return float(v)
        raise ParseError(path, f"expected a number, got {_kind(v)}")
    if tp is str:
        if type(v) is str:
            return v
        raise ParseError(path, f"expected a string, got {_kind(v)}")
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if type(v) is not list:
            raise ParseError(path, f"expected an array, got {_kind(v)}")
        return [_value(item, x, _join(path, i)) for i, x in enumerate(v)]
    if origin is dict:
        _, value = typing.get_args(tp) or (str, Any)
        if type(v) is not dict:
            raise ParseError(path, f"expected an object, got {_kind(v)}")
        return {k: _value(value, x, _join(path, k)) for k, x in v.items()}
    if origin is Literal:
        allowed = typing.get_args(tp)
        if v in allowed and type(v) in {type(a) for a in allowed}:
            return v
        raise ParseError(path, "expected one of " + ", ".join(f"`{a}`" for a in allowed))
    if dataclasses.is_dataclass(tp):
        if type(v) is not dict:
            raise ParseError(path, f"expected an object, got {_kind(v)}")
        hints = _hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = [k for k in v if k not in fields]
        if unknown:
            raise ParseError(_join(path, unknown[0]),
                             "unknown field, expected one of " + ", ".join(f"`{n}`" for n in fields))
        args = {}
        for name, f in fields.items():
            if name in v:
                args[name] = _value(hints[name], v[name], _join(path, name))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                where = f" in `{path}`" if path else ""
                raise ParseError("", f"missing field `{name}`{where}")
        return tp(**args)
    raise TypeError(f"type {tp!r} is not supported in config or state")


def dump(value: Any) -> Any:
    """A state (dataclass, dict or any JSON value) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value
