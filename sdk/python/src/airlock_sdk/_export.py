"""The glue between the contract's `source` export and a `Connector`.

The module airlock generates for a build defines
`class Source(Glue, wit_world.exports.Source)` with `connector` set to the
class `[tool.airlock] connector` names; componentize-py exports it.
"""

from __future__ import annotations

import json
import time
import traceback
from typing import Any, Callable

from . import _config, _output, _wit, log
from ._connector import Connector
from ._errors import ConfigError, Error, InternalError
from ._output import Output


def _wit_error(e: Error) -> Any:
    t = _wit.types
    return _wit.Err(t.Error(t.ErrorKind[e.kind.upper()], e.message))


def _guard(call: str, body: Callable[[], Any]) -> Any:
    """Runs an export's body: an `Error` becomes the contract's error of its
    kind; any other exception an `internal` one, its traceback in the log."""
    try:
        return body()
    except Error as e:
        raise _wit_error(e) from None
    except BaseException as e:  # noqa: BLE001 - nothing may trap the component
        for line in traceback.format_exc().rstrip().splitlines():
            log.error(line)
        where = _origin(e)
        message = f"uncaught {type(e).__name__} in `{call}`{where}: {e} (the traceback is in the log above)"
        raise _wit_error(InternalError(message)) from None


def _origin(e: BaseException) -> str:
    """` at file.py:line`, the innermost frame of the connector's own code."""
    frames = traceback.extract_tb(e.__traceback__)
    own = [f for f in frames if "/airlock_sdk/" not in f.filename.replace("\\", "/")]
    if not own:
        return ""
    f = own[-1]
    return f" at {f.filename.rsplit('/', 1)[-1]}:{f.lineno}"


def _parse_config(cls: Any, text: str) -> Any:
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"invalid config: not JSON ({e})") from None
    try:
        return _config.parse(cls, data)
    except _config.ParseError as e:
        if e.path:
            raise ConfigError(f"invalid config at `{e.path}`: {e.problem}") from None
        raise ConfigError(f"invalid config: {e.problem}") from None


def _parse_state(cls: Any, text: str | None) -> Any:
    if text is None:
        return cls() if cls is not None else {}
    try:
        return _config.parse(cls, json.loads(text))
    except (ValueError, _config.ParseError, TypeError) as e:
        raise InternalError(
            f"the stored state does not match this connector ({e}); "
            "run `airlock reset` to start over from a first sync"
        ) from None


class Glue:
    """Implements `source` for the `Connector` subclass in `connector`."""

    connector: type[Connector]
    _instance: Connector | None = None
    _spec: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        c = getattr(cls, "connector", None)
        if not (isinstance(c, type) and issubclass(c, Connector)):
            raise TypeError(f"{c!r} is not a subclass of airlock_sdk.Connector")
        # At build time (componentize-py runs this module then), so a Config
        # the schema cannot describe fails the build, not `airlock spec`.
        cls._spec = json.dumps(_config.schema_of(c.Config))
        log.install()

    def _connector(self) -> Connector:
        cls = type(self)
        if cls._instance is None:
            cls._instance = cls.connector()
        return cls._instance

    def spec(self) -> str:
        return type(self)._spec or "{}"

    def check(self, config: str) -> None:
        def body() -> None:
            c = self._connector()
            c.check(_parse_config(c.Config, config))

        _guard("check", body)

    def discover(self, config: str) -> list[Any]:
        def body() -> list[Any]:
            c = self._connector()
            tables = c.discover(_parse_config(c.Config, config))
            return [_wit_table(t) for t in tables]

        return _guard("discover", body)

    def sync(self, config: str, state: str | None) -> None:
        def body() -> None:
            started = time.perf_counter()
            _output.host_calls[:] = [0, 0.0]
            c = self._connector()
            parsed = _parse_config(c.Config, config)
            st = _parse_state(c.State, state)
            out = Output(c.discover(parsed))
            c.sync(parsed, st, out)
            out.flush()
            calls, in_host = _output.host_calls
            total = time.perf_counter() - started
            # Where the time went: the connector's Python, or the host's calls.
            log.debug(
                f"sync: {out.rows_emitted} rows in {calls} host calls; {total:.3f} s, "
                f"{total - in_host:.3f} s of it in Python, {in_host:.3f} s in host calls"
            )

        _guard("sync", body)


def _wit_type(t: Any) -> Any:
    w = _wit.types
    return {
        "boolean": w.ColumnType_Boolean,
        "int": w.ColumnType_Int,
        "float": w.ColumnType_Float,
        "text": w.ColumnType_Text,
        "bytes": w.ColumnType_Bytes,
        "timestamp": w.ColumnType_Timestamp,
        "date": w.ColumnType_Date,
        "json": w.ColumnType_Json,
    }.get(t.name, None)


def _wit_table(t: Any) -> Any:
    w = _wit.types
    cols = []
    for c in t.columns:
        if c.type.name == "decimal":
            ty = w.ColumnType_Decimal(w.DecimalSpec(c.type.precision, c.type.scale))
        else:
            ty = _wit_type(c.type)()
        cols.append(w.Column(c.name, ty, c.nullable))
    return w.TableSchema(t.name, cols, list(t.primary_key))
