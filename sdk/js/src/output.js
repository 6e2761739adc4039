// Where `sync` writes: rows batched per table, sent by column.
import * as records from "airlock:connector/records@0.1.0";
import { column, Mismatch, value } from "./columns.js";
import { call, InternalError } from "./errors.js";

/** A table's pending batch is sent once it holds this many rows. */
export const MAX_BATCH_ROWS = 1024;
/** A batch whose text and bytes exceed this is sent in halves (the host limits one call to 64 MiB by default). */
export const MAX_BATCH_BYTES = 8 << 20;

const UPSERT = 0;
const DELETE = 1;

/**
 * The sink a connector writes rows, deletes and checkpoints to in `sync`.
 * Rows are buffered per table and sent by column in batches of up to
 * MAX_BATCH_ROWS, each value converted by its column's type (from the tables
 * `discover` returned); a batch with a value its column does not take is sent
 * as plain rows, so the host names the row and column that is wrong. Order is
 * kept within a table; `truncate` and `checkpoint` send everything pending.
 * Nothing is committed before a checkpoint or the end of a successful sync.
 */
export class Output {
  constructor(tables) {
    this._tables = new Map(tables.map((t) => [t.name, t]));
    this._batches = new Map();
    /** Rows passed to upsert and delete so far, sent or buffered. */
    this.rowsEmitted = 0;
  }

  /** Inserts or replaces `row` (one value per column, in column order) by primary key. */
  upsert(table, row) {
    let b = this._batches.get(table);
    if (!b || b.op !== UPSERT) b = this._batch(table, UPSERT);
    b.rows.push(row);
    this.rowsEmitted++;
    if (b.rows.length >= MAX_BATCH_ROWS) this._send(b);
  }

  /** Marks the row whose primary key is `key` deleted (its values in key order, or the value of a one-column key). */
  delete(table, key) {
    let b = this._batches.get(table);
    if (!b || b.op !== DELETE) b = this._batch(table, DELETE);
    b.rows.push(Array.isArray(key) ? key : [key]);
    this.rowsEmitted++;
    if (b.rows.length >= MAX_BATCH_ROWS) this._send(b);
  }

  /** Marks every row of `table` deleted. */
  truncate(table) {
    this.flush();
    call(records.truncate, table);
  }

  /** Commits everything emitted so far together with `state` (any JSON value). */
  checkpoint(state) {
    this.flush();
    let text;
    try {
      text = JSON.stringify(state);
    } catch (e) {
      throw new InternalError(`the state cannot be saved as JSON: ${e.message}`);
    }
    if (text === undefined) throw new InternalError("the state cannot be saved as JSON: it is undefined");
    call(records.checkpoint, text);
  }

  /** Sends every pending batch (without committing). */
  flush() {
    for (const b of this._batches.values()) this._send(b);
  }

  _batch(table, op) {
    let b = this._batches.get(table);
    if (!b) {
      b = { table, op, rows: [] };
      this._batches.set(table, b);
    } else {
      this._send(b);
      b.op = op;
    }
    return b;
  }

  _send(b) {
    if (b.rows.length === 0) return;
    const rows = b.rows;
    b.rows = [];
    if (b.op === DELETE) this._sendKeys(b.table, rows);
    else this._sendRows(b.table, rows);
  }

  _sendRows(table, rows) {
    const schema = this._tables.get(table);
    const batch = schema ? columns(schema, rows) : null;
    if (!batch) {
      const cols = schema ? schema.columns : [];
      const asRows = rows.map((r) => Array.from(r, (v, i) => value(v, cols[i] && cols[i].type)));
      call(records.upsert, table, asRows);
      return;
    }
    const [size, cells] = batch;
    if (size > MAX_BATCH_BYTES && rows.length > 1) {
      const half = rows.length >> 1;
      this._sendRows(table, rows.slice(0, half));
      this._sendRows(table, rows.slice(half));
      return;
    }
    call(records.upsertColumns, table, { rows: rows.length, columns: cells });
  }

  _sendKeys(table, keys) {
    const schema = this._tables.get(table);
    const types = [];
    if (schema) {
      const byName = new Map(schema.columns.map((c) => [c.name, c.type]));
      for (const k of schema.primaryKey) types.push(byName.get(k));
    }
    call(
      records.delete,
      table,
      keys.map((k) => Array.from(k, (v, i) => value(v, types[i]))),
    );
  }
}

function columns(schema, rows) {
  const width = schema.columns.length;
  for (const r of rows) if (r.length !== width) return null;
  const out = [];
  let size = 0;
  for (let c = 0; c < width; c++) {
    const values = rows.map((r) => r[c]);
    try {
      const [cells, bytes] = column(schema.columns[c].type, values);
      out.push(cells);
      size += bytes;
    } catch (e) {
      if (e instanceof Mismatch) return null;
      throw e;
    }
  }
  return [size, out];
}
