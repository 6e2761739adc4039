"""The class a connector subclasses."""

from __future__ import annotations

from typing import Any

from ._output import Output
from ._types import Table


class Connector:
    """A data connector. Subclass it, set `Config` (and `State`) to dataclasses,
    implement `discover` and `sync` (and `check` if there is more to check than
    the config's shape), and name the class in `pyproject.toml`:

        [tool.airlock]
        connector = "my_module:MyConnector"

    The SDK does the rest of the contract: `spec` is the JSON Schema of
    `Config`; config JSON is parsed into a `Config` (a config that does not
    parse is a `config` error naming the field); the last committed state is
    parsed into a `State` (its defaults on a first run); an uncaught exception
    becomes an `internal` error, its traceback in the host's log.
    """

    #: The config dataclass (`[config]` of the connection file); None takes any
    #: object and hands it over as a dict.
    Config: Any = None
    #: The state dataclass, committed with every checkpoint; None uses a dict.
    State: Any = None

    def check(self, config: Any) -> None:
        """Validates `config` beyond its shape and, where it can, reaches the
        source. Raise an `Error` subclass to refuse. The default accepts any
        config that parses."""

    def discover(self, config: Any) -> list[Table]:
        """The tables this connector writes. `sync` may write only to these,
        with rows matching them (the SDK calls it at the start of `sync` to
        know each column's type, so keep it cheap)."""
        raise NotImplementedError(f"{type(self).__name__} must implement discover(config)")

    def sync(self, config: Any, state: Any, out: Output) -> None:
        """Emits records starting from `state` (the last committed checkpoint,
        or the defaults on a first run) into `out`, checkpointing as it goes.
        Rows still buffered when it returns are sent and committed; if it
        raises, everything after the last checkpoint is discarded."""
        raise NotImplementedError(f"{type(self).__name__} must implement sync(config, state, out)")
