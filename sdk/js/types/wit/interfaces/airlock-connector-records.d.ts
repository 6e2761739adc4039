/// <reference path="./airlock-connector-types.d.ts" />
declare module 'airlock:connector/records@0.1.0' {
  /**
   * Insert or replace rows by primary key (append on tables without one).
   */
  export function upsert(table: string, rows: Array<Row>): void;
  /**
   * `upsert` with the rows laid out by column: same semantics and checks,
   * several times cheaper per cell for a bulk load.
   */
  export function upsertColumns(table: string, batch: ColumnBatch): void;
  /**
   * Mark rows deleted by primary key; each key lists the primary-key values in order.
   */
  export { _delete as delete };
  function _delete(table: string, keys: Array<Row>): void;
  /**
   * Mark every row of the table deleted (e.g. before a full re-sync).
   */
  export function truncate(table: string): void;
  /**
   * Commit every row emitted so far together with `state`, in one transaction.
   * A later run starts from the last committed state.
   */
  export function checkpoint(state: string): void;
  export type Row = import('airlock:connector/types@0.1.0').Row;
  export type ColumnBatch = import('airlock:connector/types@0.1.0').ColumnBatch;
  export type Error = import('airlock:connector/types@0.1.0').Error;
}
