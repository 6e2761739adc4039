"""Leveled messages for the host's log, tagged there with the job.

    from airlock_sdk import log
    log.info("starting at cursor %s", state.cursor)

Python's `logging` goes there too: the SDK puts a handler on the root logger
(level INFO) when the connector starts, so `logging.getLogger(__name__)` works
as usual. `print` lands in the host's log as the connector's stdout. Never log
secrets (the host masks the config's secrets anyway).
"""

from __future__ import annotations

import logging
from typing import Any

from . import _wit

_LEVELS = ("trace", "debug", "info", "warn", "error")


def write(level: str, message: str) -> None:
    """Sends one message at `level` (trace, debug, info, warn or error)."""
    if not _wit.IN_COMPONENT:
        print(f"[{level}] {message}")
        return
    _wit.log.log(_wit.log.Level[level.upper()], message)


def _fmt(msg: str, args: tuple[Any, ...]) -> str:
    return msg % args if args else msg


def trace(msg: str, *args: Any) -> None:
    """Logs at trace level (`%`-style arguments, like `logging`)."""
    write("trace", _fmt(msg, args))


def debug(msg: str, *args: Any) -> None:
    """Logs at debug level."""
    write("debug", _fmt(msg, args))


def info(msg: str, *args: Any) -> None:
    """Logs at info level."""
    write("info", _fmt(msg, args))


def warn(msg: str, *args: Any) -> None:
    """Logs at warn level."""
    write("warn", _fmt(msg, args))


def error(msg: str, *args: Any) -> None:
    """Logs at error level."""
    write("error", _fmt(msg, args))


class HostHandler(logging.Handler):
    """A `logging` handler that sends records to the host's log."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a bad format string must not fail the sync
            text = str(record.msg)
        if record.levelno >= logging.ERROR:
            level = "error"
        elif record.levelno >= logging.WARNING:
            level = "warn"
        elif record.levelno >= logging.INFO:
            level = "info"
        elif record.levelno >= logging.DEBUG:
            level = "debug"
        else:
            level = "trace"
        write(level, text)


def install() -> None:
    """Routes the root logger to the host (once)."""
    root = logging.getLogger()
    if not any(isinstance(h, HostHandler) for h in root.handlers):
        handler = HostHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(handler)
        if root.level == logging.WARNING:
            root.setLevel(logging.INFO)
