declare module 'airlock:connector/types@0.1.0' {
  export interface DecimalSpec {
    precision: number,
    scale: number,
  }
  /**
   * The type of a destination column.
   */
  export type ColumnType = ColumnTypeBoolean | ColumnTypeInt | ColumnTypeFloat | ColumnTypeText | ColumnTypeBytes | ColumnTypeTimestamp | ColumnTypeDate | ColumnTypeDecimal | ColumnTypeJson;
  export interface ColumnTypeBoolean {
    tag: 'boolean',
  }
  /**
   * 64-bit signed integer.
   */
  export interface ColumnTypeInt {
    tag: 'int',
  }
  /**
   * 64-bit IEEE float.
   */
  export interface ColumnTypeFloat {
    tag: 'float',
  }
  export interface ColumnTypeText {
    tag: 'text',
  }
  export interface ColumnTypeBytes {
    tag: 'bytes',
  }
  /**
   * Microseconds since 1970-01-01T00:00:00Z (UTC, no zone kept).
   */
  export interface ColumnTypeTimestamp {
    tag: 'timestamp',
  }
  /**
   * Days since 1970-01-01.
   */
  export interface ColumnTypeDate {
    tag: 'date',
  }
  /**
   * Exact decimal with the given precision (1..=38) and scale.
   */
  export interface ColumnTypeDecimal {
    tag: 'decimal',
    val: DecimalSpec,
  }
  /**
   * A JSON document, carried as its text.
   */
  export interface ColumnTypeJson {
    tag: 'json',
  }
  /**
   * One cell. Must match the column's type, or be `null` on a nullable column.
   */
  export type Value = ValueNull | ValueBoolean | ValueInt | ValueFloat | ValueText | ValueBytes | ValueTimestamp | ValueDate | ValueDecimal | ValueJson;
  export interface ValueNull {
    tag: 'null',
  }
  export interface ValueBoolean {
    tag: 'boolean',
    val: boolean,
  }
  export interface ValueInt {
    tag: 'int',
    val: bigint,
  }
  export interface ValueFloat {
    tag: 'float',
    val: number,
  }
  export interface ValueText {
    tag: 'text',
    val: string,
  }
  export interface ValueBytes {
    tag: 'bytes',
    val: Uint8Array,
  }
  /**
   * Microseconds since the Unix epoch, UTC.
   */
  export interface ValueTimestamp {
    tag: 'timestamp',
    val: bigint,
  }
  /**
   * Days since the Unix epoch.
   */
  export interface ValueDate {
    tag: 'date',
    val: number,
  }
  /**
   * Decimal in plain notation, e.g. "-1234.50".
   */
  export interface ValueDecimal {
    tag: 'decimal',
    val: string,
  }
  /**
   * JSON text.
   */
  export interface ValueJson {
    tag: 'json',
    val: string,
  }
  export interface Column {
    name: string,
    type: ColumnType,
    nullable: boolean,
  }
  /**
   * A table the connector writes. An empty `primary-key` makes the table
   * append-only: upserts insert, and `delete` is refused.
   */
  export interface TableSchema {
    name: string,
    columns: Array<Column>,
    primaryKey: Array<string>,
  }
  /**
   * A row: one value per column, in the order of the table's columns.
   */
  export type Row = Array<Value>;
  /**
   * Variable-length cells end to end: cell `i` is `data[ends[i-1]..ends[i]]`,
   * the first starting at 0. UTF-8 for text, decimal and json.
   */
  export interface Blobs {
    /**
     * Every cell's bytes, in row order (a null cell has none).
     */
    data: Uint8Array,
    /**
     * Where each cell ends in `data`: one per row, never decreasing.
     */
    ends: Uint32Array,
  }
  /**
   * A column's slots; the case must be the one its column type takes
   * (the same pairing as `value`), or `null`.
   */
  export type ColumnData = ColumnDataNull | ColumnDataBoolean | ColumnDataInt | ColumnDataFloat | ColumnDataText | ColumnDataBytes | ColumnDataTimestamp | ColumnDataDate | ColumnDataDecimal | ColumnDataJson;
  /**
   * Every cell is null.
   */
  export interface ColumnDataNull {
    tag: 'null',
  }
  export interface ColumnDataBoolean {
    tag: 'boolean',
    val: Array<boolean>,
  }
  /**
   * 64-bit signed integers.
   */
  export interface ColumnDataInt {
    tag: 'int',
    val: BigInt64Array,
  }
  /**
   * 64-bit IEEE floats.
   */
  export interface ColumnDataFloat {
    tag: 'float',
    val: Float64Array,
  }
  /**
   * UTF-8 text.
   */
  export interface ColumnDataText {
    tag: 'text',
    val: Blobs,
  }
  export interface ColumnDataBytes {
    tag: 'bytes',
    val: Blobs,
  }
  /**
   * Microseconds since the Unix epoch, UTC.
   */
  export interface ColumnDataTimestamp {
    tag: 'timestamp',
    val: BigInt64Array,
  }
  /**
   * Days since the Unix epoch.
   */
  export interface ColumnDataDate {
    tag: 'date',
    val: Int32Array,
  }
  /**
   * Decimals in plain notation, e.g. "-1234.50".
   */
  export interface ColumnDataDecimal {
    tag: 'decimal',
    val: Blobs,
  }
  /**
   * JSON texts.
   */
  export interface ColumnDataJson {
    tag: 'json',
    val: Blobs,
  }
  /**
   * The cells of one column of a `column-batch`.
   */
  export interface ColumnCells {
    /**
     * Empty when no cell is null; otherwise one flag per row, `false`
     * where the cell is null (its slot in `data` is then ignored).
     */
    valid: Array<boolean>,
    /**
     * One slot per row, of the kind the column's type takes.
     */
    data: ColumnData,
  }
  /**
   * Rows laid out by column, for `records.upsert-columns`: the same cells
   * as a `list<row>`, in a shape the host copies a column at a time instead
   * of lifting every cell.
   */
  export interface ColumnBatch {
    /**
     * How many rows; every column holds this many cells.
     */
    rows: number,
    /**
     * One per table column, in the order of the table's columns.
     */
    columns: Array<ColumnCells>,
  }
  /**
   * What kind of failure, so the host can tell the user where to look.
   * # Variants
   * 
   * ## `"config"`
   * 
   * The connector's config is wrong: the user must change it.
   * ## `"auth"`
   * 
   * The source refused the credentials.
   * ## `"network"`
   * 
   * The source could not be reached.
   * ## `"source"`
   * 
   * The source answered with an error (missing table, permission, ...).
   * ## `"internal"`
   * 
   * A bug or an unexpected state in the connector.
   */
  export type ErrorKind = 'config' | 'auth' | 'network' | 'source' | 'internal';
  export interface Error {
    kind: ErrorKind,
    /**
     * A message a person can act on. Never include secrets.
     */
    message: string,
  }
}
