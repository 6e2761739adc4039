"""Network handles: the connector's only way out of the sandbox.

The connection config names the endpoints a connector may reach and how each
is routed (direct, an SSH bastion, ...). The host resolves, checks its egress
policy, dials and does TLS; the connector gets a byte stream:

    conn = net.connect("api")          # TLS already done if configured
    conn.write(b"GET / HTTP/1.1\\r\\nHost: api.example.com\\r\\n\\r\\n")
    reader = io.BufferedReader(conn)   # for readline()
    status = reader.readline()

`Connection` is a file-like object (`io.RawIOBase`): `read(n)` returns what is
there (at least one byte), `b""` once the peer closed its side; `write(b)`
sends all of `b` in chunks the host accepts; `close()` (or `with`, or
dropping it) releases its streams before the connection, as the host requires.
Failures raise `NetError` (an `OSError` and a `NetworkError`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from . import _wit
from ._errors import NetError

#: The most bytes one `read` asks the host for.
MAX_READ = 64 * 1024
#: The most bytes one host write takes: the host traps on larger
#: `blocking-write-and-flush` chunks, so `write` splits at this size.
MAX_WRITE = 4096


@dataclass(frozen=True)
class Endpoint:
    """An endpoint this connector may connect to."""

    #: The name the config gives it, e.g. "source": what `connect` takes.
    name: str
    #: The source's real host name (e.g. for an HTTP Host header); not
    #: necessarily where the bytes go.
    host: str
    port: int
    #: "disable", "prefer" or "require".
    tls: str
    #: Whether the host does the TLS handshake on connect (HTTPS-style)
    #: rather than waiting for `upgrade_tls` (PostgreSQL-style).
    tls_immediate: bool


_NET_KINDS = {
    "UNKNOWN_ENDPOINT": "unknown-endpoint",
    "DENIED": "denied",
    "UNREACHABLE": "unreachable",
    "TIMEOUT": "timeout",
    "TLS": "tls",
    "CLOSED": "closed",
}


def _net_error(e: Any) -> NetError:
    return NetError(_NET_KINDS.get(e.kind.name, "closed"), e.message)


def endpoints() -> list[Endpoint]:
    """The endpoints this connector may connect to, as the connection config lists them."""
    _wit.require()
    return [
        Endpoint(e.name, e.host, e.port, e.tls.name.lower(), e.tls_immediate)
        for e in _wit.network.endpoints()
    ]


def endpoint(name: str) -> Endpoint | None:
    """The endpoint called `name`, if the connection config has one."""
    return next((e for e in endpoints() if e.name == name), None)


def connect(name: str) -> "Connection":
    """Opens a connection to the endpoint called `name`. The host dials through
    the configured route and, for `tls_immediate` endpoints, does the TLS
    handshake before this returns. Timeouts are the host's."""
    _wit.require()
    try:
        conn = _wit.network.connect(name)
    except _wit.Err as e:
        raise _net_error(e.value) from None
    return Connection(conn, name)


class Connection(io.RawIOBase):
    """A byte stream to an endpoint; closing it closes the connection."""

    def __init__(self, conn: Any, endpoint: str) -> None:
        super().__init__()
        self._conn = conn
        self._input: Any = None
        self._output: Any = None
        #: The name of the endpoint this connection goes to.
        self.endpoint = endpoint

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        """Reads what the peer sent into `buffer`, blocking until at least one
        byte is there; 0 once the peer closed its side."""
        view = memoryview(buffer).cast("B")
        if len(view) == 0:
            return 0
        self._check_open()
        want = min(len(view), MAX_READ)
        stream = self._stream_in()
        while True:
            try:
                data = stream.blocking_read(want)
            except _wit.Err as e:
                if isinstance(e.value, _wit.streams.StreamError_Closed):
                    return 0
                raise self._failed("read", e.value.value.to_debug_string()) from None
            # A conforming host never returns nothing from a blocking read;
            # 0 would mean end of stream to the caller, so ask again.
            if data:
                break
        n = len(data)
        view[:n] = data
        return n

    def write(self, data: Any) -> int:
        """Sends all of `data`, in chunks of at most `MAX_WRITE` bytes, each
        flushed before the next; returns its length."""
        self._check_open()
        view = memoryview(data).cast("B")
        stream = self._stream_out()
        for at in range(0, len(view), MAX_WRITE):
            try:
                stream.blocking_write_and_flush(bytes(view[at : at + MAX_WRITE]))
            except _wit.Err as e:
                if isinstance(e.value, _wit.streams.StreamError_Closed):
                    raise NetError("closed", f"endpoint `{self.endpoint}` closed the connection") from None
                raise self._failed("write", e.value.value.to_debug_string()) from None
        return len(view)

    def upgrade_tls(self) -> None:
        """Starts TLS in-band (e.g. after PostgreSQL answered an SSLRequest with
        `S`). Bytes the peer sent that were not read yet are lost, as with any
        STARTTLS-style protocol. Refused on endpoints whose TLS mode is disable."""
        self._check_open()
        self._drop_streams()
        try:
            self._conn.upgrade_tls()
        except _wit.Err as e:
            raise _net_error(e.value) from None

    def tls_version(self) -> str | None:
        """The negotiated TLS version ("TLSv1.3"), or None on clear text."""
        self._check_open()
        return self._conn.tls_version()

    def close(self) -> None:
        """Closes the connection: its streams first, as the host requires."""
        if not self.closed:
            self._drop_streams()
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.__exit__(None, None, None)
        super().close()

    def __repr__(self) -> str:
        return f"<airlock_sdk.net.Connection endpoint={self.endpoint!r}{' closed' if self.closed else ''}>"

    def _check_open(self) -> None:
        if self.closed:
            raise NetError("closed", f"the connection to endpoint `{self.endpoint}` is closed")

    def _stream_in(self) -> Any:
        if self._input is None:
            try:
                self._input = self._conn.input()
            except _wit.Err as e:
                raise _net_error(e.value) from None
        return self._input

    def _stream_out(self) -> Any:
        if self._output is None:
            try:
                self._output = self._conn.output()
            except _wit.Err as e:
                raise _net_error(e.value) from None
        return self._output

    def _drop_streams(self) -> None:
        # Children first: the host refuses to drop or upgrade a connection
        # whose streams are alive.
        for name in ("_input", "_output"):
            stream = getattr(self, name)
            if stream is not None:
                setattr(self, name, None)
                stream.__exit__(None, None, None)

    def _failed(self, op: str, detail: str) -> NetError:
        # A host running with RUST_BACKTRACE appends its stack: noise to a user.
        detail = detail.split("\nStack backtrace:")[0]
        kind = "timeout" if "timed out" in detail.lower() else "closed"
        return NetError(kind, f"{op} on endpoint `{self.endpoint}` failed: {detail}")
