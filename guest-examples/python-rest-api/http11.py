"""A small blocking HTTP/1.1 client over any file-like byte stream: GET only,
keep-alive, Content-Length, chunked and close-delimited bodies, every size
bounded. In the connector the stream is an `airlock_sdk.net.Connection`; the
host owns timeouts and TLS."""

from __future__ import annotations

import io
from typing import Callable

#: The most bytes a response head (status line and headers) may take.
MAX_HEAD_BYTES = 64 * 1024
#: The most headers a response may carry.
MAX_HEADERS = 64
#: The longest chunk-size line of a chunked body.
MAX_LINE_BYTES = 1024


class ProtocolError(Exception):
    """The peer does not speak HTTP/1.1 as this client understands it."""


class TooLarge(Exception):
    """A response over a size limit."""


class ClosedBeforeResponse(Exception):
    """The server closed the connection before sending a byte of a response."""


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


class Client:
    """An HTTP/1.1 client for one origin that keeps its connection open between
    requests and opens a new one (with `connect`) when it has none or the
    server closed the old one."""

    def __init__(self, host: str, max_body: int, connect: Callable[[], io.RawIOBase], agent: str) -> None:
        self._connect = connect
        self._host = host
        self._max_body = max_body
        self._agent = agent
        self._conn: io.RawIOBase | None = None
        self._reader: io.BufferedReader | None = None

    def get(self, target: str, headers: list[tuple[str, str]]) -> Response:
        """Sends `GET target` and reads the response. A request on a kept-alive
        connection the server closed meanwhile is retried once on a new one
        (GET is idempotent)."""
        reused = self._conn is not None
        try:
            return self._try_get(target, headers)
        except (ClosedBeforeResponse, BrokenPipeError, ConnectionError) as e:
            if not reused:
                raise
            del e
            return self._try_get(target, headers)

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn, self._reader = self._conn, None, None
            conn.close()

    def _try_get(self, target: str, headers: list[tuple[str, str]]) -> Response:
        lines = [f"GET {target} HTTP/1.1", f"Host: {self._host}", "Accept: application/json",
                 f"User-Agent: {self._agent}"]
        lines += [f"{k}: {v}" for k, v in headers]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if self._conn is None:
            self._conn = self._connect()
            self._reader = io.BufferedReader(self._conn, 16 * 1024)
        try:
            self._conn.write(request)
            response, keep_alive = self._read_response()
        except BaseException:
            # After any failure the stream's position is unknown: start over next time.
            self.close()
            raise
        if not keep_alive:
            self.close()
        return response

    def _line(self, limit: int, what: str) -> bytes:
        assert self._reader is not None
        line = self._reader.readline(limit + 1)
        if len(line) > limit:
            raise TooLarge(f"{what} over {limit} bytes")
        return line

    def _read_response(self) -> tuple[Response, bool]:
        status_line = self._line(MAX_HEAD_BYTES, "response head")
        if not status_line:
            raise ClosedBeforeResponse()
        parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        head = len(status_line)
        while True:
            line = self._line(MAX_HEAD_BYTES, "response head")
            head += len(line)
            if head > MAX_HEAD_BYTES:
                raise TooLarge(f"response head over {MAX_HEAD_BYTES} bytes")
            if not line:
                raise ProtocolError("the connection closed inside the response head")
            if line in (b"\r\n", b"\n"):
                break
            if len(headers) >= MAX_HEADERS:
                raise TooLarge(f"response with more than {MAX_HEADERS} headers")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        keep_alive = parts[0] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        elif "content-length" in headers:
            try:
                n = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            if n > self._max_body:
                raise TooLarge(f"body of {n} bytes, over the {self._max_body}-byte limit")
            body = self._exactly(n)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            assert self._reader is not None
            body = self._reader.read(self._max_body + 1) or b""
            if len(body) > self._max_body:
                raise TooLarge(f"body over the {self._max_body}-byte limit")
            keep_alive = False
        return Response(status, headers, body), keep_alive

    def _exactly(self, n: int) -> bytes:
        assert self._reader is not None
        data = self._reader.read(n) if n else b""
        if len(data) != n:
            raise ProtocolError(f"the connection closed after {len(data)} of {n} body bytes")
        return data

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self._line(MAX_LINE_BYTES, "chunk-size line")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {line[:40]!r}") from None
            if size == 0:
                while self._line(MAX_LINE_BYTES, "trailer line") not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            if len(body) + size > self._max_body:
                raise TooLarge(f"body over the {self._max_body}-byte limit")
            body += self._exactly(size)
            self._line(MAX_LINE_BYTES, "chunk end")
