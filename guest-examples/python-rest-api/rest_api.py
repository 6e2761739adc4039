"""`python-rest-api`: the `rest-api` connector in Python. It pages through a
JSON HTTP API of customers (the demo's API: `GET /v1/customers?limit=..&
updated_since=..&cursor=..`) over its network handle, incrementally by an
`(updated_at, id)` cursor, and checkpoints after every page."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Optional
from urllib.parse import quote

from airlock_sdk import (
    AuthError,
    ColumnType,
    ConfigError,
    Connector,
    NetError,
    NetworkError,
    Output,
    SourceError,
    Table,
    log,
    net,
)

import http11

#: The largest page size the config may ask for.
MAX_PAGE_SIZE = 1000
#: The largest response body accepted: a page of 1000 customers is well under 1 MiB.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Digits after the point of `amount`, and all its digits.
AMOUNT_SCALE, AMOUNT_PRECISION = 2, 18
TABLE = "customers"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


@dataclass
class Config:
    """Pages through a JSON API of customers over a network handle."""

    path: Annotated[str, "The collection's path, e.g. /v1/customers."]
    endpoint: Annotated[str, "The endpoint (in the connection file) the API is reached through."] = "api"
    page_size: Annotated[int, "Customers per request, 1..=1000."] = 100
    token: Annotated[Optional[str], "Bearer token, if the API wants one (use a secret reference)."] = None


@dataclass
class Cursor:
    #: Microseconds since the Unix epoch.
    updated_at: int
    id: int


@dataclass
class State:
    #: The last customer committed, in (updated_at, id) order.
    cursor: Optional[Cursor] = None


def micros(t: dt.datetime) -> int:
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def parse_time(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def fits_decimal(text: str) -> bool:
    if not _DECIMAL.fullmatch(text):
        return False
    digits = text.lstrip("-")
    whole, _, frac = digits.partition(".")
    return len(frac) <= AMOUNT_SCALE and len(whole) + AMOUNT_SCALE <= AMOUNT_PRECISION


def quote_body(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace")
    text = "".join(" " if c.isspace() or not c.isprintable() else c for c in text).strip()
    if not text:
        return "(empty body)"
    return f"`{text}{'…' if len(body) > 200 else ''}`"


class Api:
    """The customers API behind one endpoint, on one kept-alive connection."""

    def __init__(self, config: Config) -> None:
        ep = net.endpoint(config.endpoint)
        if ep is None:
            raise ConfigError(
                f"there is no endpoint `{config.endpoint}` in the connection config: add "
                f"`[endpoints.{config.endpoint}]` there, or set `endpoint` to one that exists"
            )
        if ep.tls == "require" and not ep.tls_immediate:
            raise ConfigError(
                f"endpoint `{config.endpoint}` is set up for in-band TLS (STARTTLS-style), which HTTP "
                "does not use: configure it for a TLS handshake on connect (HTTPS)"
            )
        tls = ep.tls_immediate and ep.tls != "disable"
        if config.token and not tls:
            log.warn("endpoint `%s` is clear text: the bearer token travels unencrypted", config.endpoint)
        host = ep.host if ep.port == (443 if tls else 80) else f"{ep.host}:{ep.port}"
        name = ep.name
        self.client = http11.Client(host, MAX_BODY_BYTES, lambda: net.connect(name), "airlock-python-rest-api/0.1.0")
        self.endpoint = config.endpoint
        self.path = config.path
        self.auth = f"Bearer {config.token}" if config.token else None

    def page(self, limit: int, updated_since: int | None = None, cursor: str | None = None) -> dict:
        sep = "&" if "?" in self.path else "?"
        target = f"{self.path}{sep}limit={limit}"
        if updated_since is not None:
            target += f"&updated_since={updated_since}"
        if cursor is not None:
            target += "&cursor=" + quote(cursor, safe="-._~")
        headers = [("Authorization", self.auth)] if self.auth else []
        try:
            resp = self.client.get(target, headers)
        except NetError as e:
            raise NetworkError(f"endpoint `{self.endpoint}`: {e}") from None
        except http11.ClosedBeforeResponse:
            raise NetworkError(f"endpoint `{self.endpoint}` closed the connection without answering") from None
        except http11.ProtocolError as e:
            raise SourceError(f"endpoint `{self.endpoint}` does not answer like an HTTP/1.1 server: {e}") from None
        except http11.TooLarge as e:
            raise SourceError(f"endpoint `{self.endpoint}` sent a {e}; refused") from None
        self.check_status(resp)
        try:
            page = json.loads(resp.body)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise ValueError("no `data` list")
        except ValueError as e:
            ct = resp.content_type
            what = f"`{ct}`, not JSON" if ct and "json" not in ct else f"not the expected JSON ({e})"
            raise SourceError(
                f"GET {self.path} on endpoint `{self.endpoint}` answered with {what}: {quote_body(resp.body)}"
            ) from None
        return page

    def check_status(self, resp: http11.Response) -> None:
        status, path, endpoint = resp.status, self.path, self.endpoint
        if 200 <= status < 300:
            return
        if status in (401, 403) and self.auth is None:
            raise AuthError(f"the API on endpoint `{endpoint}` wants credentials (HTTP {status}): set `token`")
        if status in (401, 403):
            raise AuthError(
                f"the API on endpoint `{endpoint}` refused the token (HTTP {status}): "
                f"check that `token` is current and may read {path}"
            )
        if status == 404:
            raise ConfigError(
                f"`path` {path} does not exist on endpoint `{endpoint}` (HTTP 404): check `path` in the config"
            )
        if status >= 500:
            raise SourceError(
                f"the API on endpoint `{endpoint}` failed with HTTP {status} for GET {path}: {quote_body(resp.body)}"
            )
        raise SourceError(
            f"the API on endpoint `{endpoint}` answered HTTP {status} to GET {path}: {quote_body(resp.body)}"
        )


def record(c: dict) -> tuple[Cursor, tuple]:
    """A customer as its cursor position and row; a value the table cannot hold is a source error."""
    cid = c.get("id")
    if type(cid) is not int:
        raise SourceError(f"a customer has no integer `id`: {quote_body(json.dumps(c).encode())}")
    updated = parse_time(str(c.get("updated_at", "")))
    if updated is None:
        raise SourceError(f"customer {cid}: `updated_at` `{c.get('updated_at')}` is not an RFC 3339 timestamp")
    amount = c.get("amount")
    if amount is not None:
        text = amount if isinstance(amount, str) else json.dumps(amount)
        if not fits_decimal(text):
            raise SourceError(
                f"customer {cid}: `amount` `{text}` is not a decimal with at most "
                f"{AMOUNT_SCALE} places and {AMOUNT_PRECISION} digits"
            )
        try:
            amount = Decimal(text)
        except InvalidOperation:  # fits_decimal checked the shape already
            raise SourceError(f"customer {cid}: `amount` `{text}` is not a decimal") from None
    row = (cid, c.get("name"), c.get("email"), c.get("plan"), amount, updated)
    return Cursor(micros(updated), cid), row


class RestApi(Connector):
    Config = Config
    State = State

    @staticmethod
    def validate(config: Config) -> None:
        if not config.path.startswith("/") or any(ch.isspace() for ch in config.path):
            raise ConfigError(
                f"`path` must be an absolute path without spaces like `/v1/customers`, not `{config.path}`"
            )
        if not 1 <= config.page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"`page_size` must be 1..={MAX_PAGE_SIZE}, not {config.page_size}")
        if config.token is not None and (
            not config.token or any(ch.isspace() or not ch.isprintable() for ch in config.token)
        ):
            # Not echoed: it is a secret.
            raise ConfigError("`token` must be non-empty and hold no spaces or control characters")

    def check(self, config: Config) -> None:
        """Validates the config, then fetches one customer to prove the endpoint, path and token work."""
        self.validate(config)
        Api(config).page(limit=1)

    def discover(self, config: Config) -> list[Table]:
        self.validate(config)
        return [
            Table(TABLE)
            .column("id", ColumnType.INT)
            .nullable("name", ColumnType.TEXT)
            .nullable("email", ColumnType.TEXT)
            .nullable("plan", ColumnType.TEXT)
            .nullable("amount", ColumnType.decimal(AMOUNT_PRECISION, AMOUNT_SCALE))
            .column("updated_at", ColumnType.TIMESTAMP)
            .key("id")
        ]

    def sync(self, config: Config, state: State, out: Output) -> None:
        api = Api(config)
        since = state.cursor.updated_at if state.cursor else None
        if since is None:
            log.info("first run: fetching every customer")
        else:
            log.info("fetching customers updated since %d µs", since)
        pages = emitted = 0
        page_cursor: str | None = None
        last = (state.cursor.updated_at, state.cursor.id) if state.cursor else None
        while True:
            page = api.page(config.page_size, since, page_cursor)
            pages += 1
            for c in page["data"]:
                position, row = record(c)
                key = (position.updated_at, position.id)
                # `updated_since` is inclusive: rows at the cursor's own timestamp come
                # again, and the ones already committed are skipped here.
                if last is not None and key <= last:
                    continue
                last = key
                state.cursor = position
                out.upsert(TABLE, row)
                emitted += 1
            out.checkpoint(state)
            nxt = page.get("next_cursor")
            if nxt is None:
                break
            if nxt == page_cursor:
                raise SourceError(
                    f"the API on endpoint `{config.endpoint}` returned the same `next_cursor` twice; "
                    "it would page forever"
                )
            page_cursor = nxt
        api.client.close()
        log.info("%d customers new or updated, in %d pages", emitted, pages)
