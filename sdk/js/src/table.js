// Column types and table schemas, as `discover` returns them.

/** The type of a destination column (see the README for the JavaScript values each takes). */
export class ColumnType {
  /** @param {string} name @param {number} [precision] @param {number} [scale] */
  constructor(name, precision = 0, scale = 0) {
    this.name = name;
    this.precision = precision;
    this.scale = scale;
    Object.freeze(this);
  }
  /** An exact decimal: `precision` digits in all (1..=38), `scale` after the point. */
  static decimal(precision, scale) {
    return new ColumnType("decimal", precision, scale);
  }
  toString() {
    return this.name === "decimal" ? `decimal(${this.precision}, ${this.scale})` : this.name;
  }
}
for (const n of ["boolean", "int", "float", "text", "bytes", "timestamp", "date", "json"]) {
  ColumnType[n.toUpperCase()] = new ColumnType(n);
}

/**
 * A table the connector writes: name, columns in row order, primary key.
 * `new Table("users").column("id", ColumnType.INT).nullable("email", ColumnType.TEXT).key("id")`.
 * A table without a primary key is append-only: deletes are refused by the host.
 */
export class Table {
  /** @param {string} name */
  constructor(name) {
    this.name = name;
    /** @type {{name: string, type: ColumnType, nullable: boolean}[]} */
    this.columns = [];
    /** @type {string[]} */
    this.primaryKey = [];
  }
  /** Adds a column that never holds null. */
  column(name, type) {
    this.columns.push({ name, type, nullable: false });
    return this;
  }
  /** Adds a column that may hold null. */
  nullable(name, type) {
    this.columns.push({ name, type, nullable: true });
    return this;
  }
  /** Sets the primary key: column names, in the order a key given to `delete` lists its values. */
  key(...columns) {
    this.primaryKey = columns.flat();
    return this;
  }
}

/** The contract's table-schema record for a Table. */
export function witTable(t) {
  return {
    name: t.name,
    columns: t.columns.map((c) => ({
      name: c.name,
      type:
        c.type.name === "decimal"
          ? { tag: "decimal", val: { precision: c.type.precision, scale: c.type.scale } }
          : { tag: c.type.name },
      nullable: c.nullable,
    })),
    primaryKey: [...t.primaryKey],
  };
}
