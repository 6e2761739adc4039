"""Write airlock data connectors in Python.

A connector is a WebAssembly component that the airlock host runs in a
sandbox: it gets its config, emits rows into tables it declared, and
checkpoints a state so the next run resumes where this one stopped. airlock
builds a directory with a `pyproject.toml` that has a `[tool.airlock]` table
(with componentize-py, against the contract the host implements):

    from dataclasses import dataclass
    from typing import Annotated
    from airlock_sdk import ColumnType, Connector, ConfigError, Output, Table

    @dataclass
    class Config:
        count: Annotated[int, "How many numbers to emit per run"] = 1000

    @dataclass
    class State:
        next: int = 0

    class Counter(Connector):
        Config = Config
        State = State

        def check(self, config):
            if config.count < 1:
                raise ConfigError("`count` must be at least 1")

        def discover(self, config):
            return [Table("numbers").column("n", ColumnType.INT).column("square", ColumnType.INT).key("n")]

        def sync(self, config, state, out: Output):
            for n in range(state.next, state.next + config.count):
                out.upsert("numbers", (n, n * n))
                state.next = n + 1
                if state.next % 100 == 0:
                    out.checkpoint(state)   # rows so far + state, one transaction
            out.checkpoint(state)

The rules behind it (tables, keys, batching, checkpoints, errors,
networking) are the same in every language: see docs/connectors.md.
"""

from ._connector import Connector
from ._errors import (
    AuthError,
    ConfigError,
    Error,
    InternalError,
    NetError,
    NetworkError,
    SourceError,
)
from ._output import MAX_BATCH_ROWS, Output
from ._types import Column, ColumnType, Table
from . import log, net

__all__ = [
    "AuthError",
    "Column",
    "ColumnType",
    "ConfigError",
    "Connector",
    "Error",
    "InternalError",
    "MAX_BATCH_ROWS",
    "NetError",
    "NetworkError",
    "Output",
    "SourceError",
    "Table",
    "log",
    "net",
]

__version__ = "0.1.0"
