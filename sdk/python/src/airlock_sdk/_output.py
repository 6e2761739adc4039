"""Where `Connector.sync` writes: rows batched per table, sent by column."""

from __future__ import annotations

import json
from time import perf_counter
from typing import Any, Sequence

from . import _columns, _config, _wit
from ._errors import BY_KIND, Error, InternalError
from ._types import Table

#: A table's pending batch is sent once it holds this many rows.
MAX_BATCH_ROWS = 1024
#: A batch whose text and bytes add up to more than this is sent in halves, so
#: one host call stays well under the host's per-call limit (64 MiB by default).
MAX_BATCH_BYTES = 8 << 20

_UPSERT, _DELETE = 0, 1


def host_error(e: Any) -> Error:
    """The SDK's exception for an `error` record the host returned."""
    kind = e.kind.name.lower()
    return BY_KIND.get(kind, InternalError)(e.message)


_CASES = ("boolean", "int", "float", "text", "bytes", "timestamp", "date", "decimal", "json")
_BLOB_CASES = frozenset(("text", "bytes", "decimal", "json"))
#: The bindings' classes by case, looked up once (a batch is sent per table
#: switch between upserts and deletes, so this runs often).
_classes: tuple[dict[str, Any], dict[str, Any]] | None = None


def _wit_classes() -> tuple[dict[str, Any], dict[str, Any]]:
    global _classes
    if _classes is None:
        t = _wit.types
        values = {c: getattr(t, "Value_" + c.capitalize()) for c in _CASES}
        values["null"] = t.Value_Null
        data = {c: getattr(t, "ColumnData_" + c.capitalize()) for c in _CASES}
        data["null"] = t.ColumnData_Null
        _classes = (values, data)
    return _classes


def _wit_value(case: str, payload: Any) -> Any:
    cls = _wit_classes()[0][case]
    return cls() if case == "null" else cls(payload)


def _wit_data(case: str, slots: Any) -> Any:
    cls = _wit_classes()[1][case]
    if case == "null":
        return cls()
    if case in _BLOB_CASES:
        data, ends = slots
        return cls(_wit.types.Blobs(data, ends))
    return cls(slots)


class _Batch:
    __slots__ = ("table", "op", "rows")

    def __init__(self, table: str, op: int) -> None:
        self.table = table
        self.op = op
        self.rows: list[Sequence[Any]] = []


class Output:
    """The sink a connector writes rows, deletes and checkpoints to in `sync`.

    Rows are buffered per table and sent to the host by column
    (`upsert-columns`) in batches of up to `MAX_BATCH_ROWS`. Each value is
    converted by its column's type (see `ColumnType`), using the tables
    `discover` returned. A batch with a value its column does not take is sent
    as plain rows, so the host names the row and column that is wrong. Order
    is kept within a table: switching between `upsert` and `delete` sends
    what is pending; `truncate` and `checkpoint` send everything pending.
    When `sync` returns, what is left is sent and the host commits it.

    Nothing is committed before a checkpoint (or the end of a successful
    sync): a failed run resumes from the last checkpointed state. Errors the
    host reports come back as `Error`s from the call that sent the batch,
    which may be a later call than the one that buffered the faulty row.
    """

    def __init__(self, tables: list[Table]) -> None:
        self._tables = {t.name: t for t in tables}
        self._batches: dict[str, _Batch] = {}
        #: Rows passed to `upsert` and `delete` so far, sent or still buffered.
        self.rows_emitted = 0

    def upsert(self, table: str, row: Sequence[Any]) -> None:
        """Inserts or replaces `row` (one value per column, in column order) by
        primary key; on a table without a primary key, appends it."""
        b = self._batches.get(table)
        if b is None or b.op != _UPSERT:
            b = self._batch(table, _UPSERT)
        b.rows.append(row)
        self.rows_emitted += 1
        if len(b.rows) >= MAX_BATCH_ROWS:
            self._send(b)

    def delete(self, table: str, key: Any) -> None:
        """Marks the row whose primary key is `key` deleted: the key's values in
        primary-key order, or the value alone for a one-column key."""
        b = self._batches.get(table)
        if b is None or b.op != _DELETE:
            b = self._batch(table, _DELETE)
        b.rows.append(key if isinstance(key, (list, tuple)) else (key,))
        self.rows_emitted += 1
        if len(b.rows) >= MAX_BATCH_ROWS:
            self._send(b)

    def truncate(self, table: str) -> None:
        """Marks every row of `table` deleted (e.g. before a full re-sync)."""
        self.flush()
        _call(_wit.records.truncate, table)

    def checkpoint(self, state: Any) -> None:
        """Commits everything emitted so far together with `state` (a dataclass,
        a dict or any JSON value): a later run starts from the last one committed."""
        self.flush()
        try:
            text = json.dumps(_config.dump(state), separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise InternalError(f"the state cannot be saved as JSON: {e}") from e
        _call(_wit.records.checkpoint, text)

    def flush(self) -> None:
        """Sends every pending batch to the host (without committing it)."""
        for b in self._batches.values():
            self._send(b)

    def _batch(self, table: str, op: int) -> _Batch:
        b = self._batches.get(table)
        if b is None:
            b = self._batches[table] = _Batch(table, op)
        else:
            self._send(b)
            b.op = op
        return b

    def _send(self, b: _Batch) -> None:
        if not b.rows:
            return
        rows, b.rows = b.rows, []
        if b.op == _DELETE:
            self._send_keys(b.table, rows)
        else:
            self._send_rows(b.table, rows)

    def _send_rows(self, table: str, rows: list[Sequence[Any]]) -> None:
        schema = self._tables.get(table)
        batch = None
        if schema is not None:
            batch = self._columns(schema, rows)
        if batch is None:
            # Unknown table, wrong width or a value of another type: as rows,
            # so the host's check names the row and column.
            cols = schema.columns if schema is not None else []
            as_rows = [
                [_wit_value(*_columns.value(v, cols[i].type if i < len(cols) else None))
                 for i, v in enumerate(r)]
                for r in rows
            ]
            _call(_wit.records.upsert, table, as_rows)
            return
        size, columns = batch
        if size > MAX_BATCH_BYTES and len(rows) > 1:
            half = len(rows) // 2
            self._send_rows(table, rows[:half])
            self._send_rows(table, rows[half:])
            return
        _call(_wit.records.upsert_columns, table, _wit.types.ColumnBatch(len(rows), columns))

    @staticmethod
    def _columns(schema: Table, rows: list[Sequence[Any]]) -> tuple[int, list[Any]] | None:
        width = len(schema.columns)
        if set(map(len, rows)) != {width}:
            return None
        t = _wit.types
        out = []
        size = 0
        for col, values in zip(schema.columns, zip(*rows)):
            try:
                valid, case, slots = _columns.column(col.type, values)
            except _columns.Mismatch:
                return None
            if case in ("text", "bytes", "decimal", "json"):
                size += len(slots[0])
            out.append(t.ColumnCells(valid, _wit_data(case, slots)))
        return size, out

    def _send_keys(self, table: str, keys: list[Sequence[Any]]) -> None:
        schema = self._tables.get(table)
        types: dict[int, Any] = {}
        if schema is not None:
            by_name = {c.name: c.type for c in schema.columns}
            types = {i: by_name.get(k) for i, k in enumerate(schema.primary_key)}
        wit_keys = [[_wit_value(*_columns.value(v, types.get(i))) for i, v in enumerate(k)] for k in keys]
        _call(_wit.records.delete, table, wit_keys)


#: Host calls made and seconds spent in them, for the debug line at the end of a sync.
host_calls = [0, 0.0]


def _call(f: Any, *args: Any) -> None:
    started = perf_counter()
    try:
        f(*args)
    except _wit.Err as e:
        raise host_error(e.value) from None
    finally:
        host_calls[0] += 1
        host_calls[1] += perf_counter() - started
