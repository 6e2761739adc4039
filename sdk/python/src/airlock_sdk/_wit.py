"""The generated bindings, which exist only inside a component that
componentize-py built against airlock's `wit/`. Imported lazily so the pure
parts of the SDK (schemas, config parsing, value conversion) also load in a
plain Python, for a connector's own unit tests."""

from __future__ import annotations

try:  # pragma: no cover - the component path
    from componentize_py_types import Err
    from wit_world.imports import log, network, records, streams, types

    IN_COMPONENT = True
except ImportError:  # a plain Python: no host to talk to
    IN_COMPONENT = False

    class Err(Exception):  # type: ignore[no-redef]
        """Stands in for the bindings' `Err` so `except Err` still parses."""

        value: object = None

    log = network = records = streams = types = None  # type: ignore[assignment]


def require() -> None:
    """Raises a clear error when a host call is made outside a component."""
    if not IN_COMPONENT:
        raise RuntimeError(
            "this needs the airlock host: build the connector with airlock "
            "(`airlock spec <dir>`, or `connector = \"<dir>\"` in a connection file) and run it there"
        )
