// JavaScript values to the contract's cells: a table's pending rows as one
// buffer per column (`upsert-columns`), or single values for plain rows.

const MS_PER_DAY = 86_400_000;
const encoder = new TextEncoder();

/** A column holds a value its type does not take: the rows go as rows, and the host names it. */
export class Mismatch extends Error {}

const isInt = (v) => (typeof v === "number" && Number.isSafeInteger(v)) || typeof v === "bigint";
const isBytes = (v) => v instanceof Uint8Array;
const isDate = (v) => v instanceof Date && !Number.isNaN(v.getTime());

/** Microseconds since the epoch of a Date, or a number/bigint of them. */
export function micros(v) {
  return v instanceof Date ? BigInt(v.getTime()) * 1000n : BigInt(v);
}

/** Days since the epoch of a Date (its UTC day), or a number of them. */
export function days(v) {
  return v instanceof Date ? Math.floor(v.getTime() / MS_PER_DAY) : Number(v);
}

/** JSON text: a string is JSON already; anything else is stringified. */
export function jsonText(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

// For each column type: does it take v (non-null), and its slot.
const RULES = {
  boolean: { takes: (v) => typeof v === "boolean" },
  int: { takes: isInt, array: BigInt64Array, slot: (v) => BigInt(v), fill: 0n },
  float: { takes: (v) => typeof v === "number", array: Float64Array, slot: (v) => v, fill: 0 },
  text: { takes: (v) => typeof v === "string", blob: (v) => encoder.encode(v) },
  bytes: { takes: isBytes, blob: (v) => v },
  timestamp: { takes: (v) => isDate(v) || isInt(v), array: BigInt64Array, slot: micros, fill: 0n },
  date: { takes: (v) => isDate(v) || (typeof v === "number" && Number.isInteger(v)), array: Int32Array, slot: days, fill: 0 },
  decimal: { takes: (v) => typeof v === "string" || isInt(v) || typeof v === "number", blob: (v) => encoder.encode(String(v)) },
  json: { takes: (v) => v !== undefined, blob: (v) => encoder.encode(jsonText(v)) },
};

/**
 * One column's cells (`values`, null or undefined for null) as the contract's
 * column-cells; throws Mismatch for a value the type does not take.
 * Returns [cells, bytes of text-like data].
 */
export function column(type, values) {
  const rule = RULES[type.name];
  const n = values.length;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) nulls++;
    else if (!rule.takes(v)) throw new Mismatch();
  }
  if (nulls === n) return [{ valid: [], data: { tag: "null" } }, 0];
  const valid = nulls ? values.map((v) => v !== null && v !== undefined) : [];
  const tag = type.name;
  if (rule.blob) {
    const parts = new Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      const b = v === null || v === undefined ? EMPTY : rule.blob(v);
      parts[i] = b;
      total += b.length;
    }
    const data = new Uint8Array(total);
    const ends = new Uint32Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      data.set(parts[i], at);
      at += parts[i].length;
      ends[i] = at;
    }
    return [{ valid, data: { tag, val: { data, ends } } }, total];
  }
  if (!rule.array) {
    return [{ valid, data: { tag, val: values.map((v) => !!v) } }, 0];
  }
  const out = new rule.array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined ? rule.fill : rule.slot(v);
  }
  return [{ valid, data: { tag, val: out } }, 0];
}
const EMPTY = new Uint8Array(0);

/**
 * One cell as the contract's value: converted to the column's type when it
 * takes it, else by its JavaScript type (so the host can say what is wrong).
 */
export function value(v, type) {
  if (v === null || v === undefined) return { tag: "null" };
  if (type && RULES[type.name].takes(v)) {
    switch (type.name) {
      case "boolean":
        return { tag: "boolean", val: v };
      case "int":
        return { tag: "int", val: BigInt(v) };
      case "float":
        return { tag: "float", val: v };
      case "text":
        return { tag: "text", val: v };
      case "bytes":
        return { tag: "bytes", val: v };
      case "timestamp":
        return { tag: "timestamp", val: micros(v) };
      case "date":
        return { tag: "date", val: days(v) };
      case "decimal":
        return { tag: "decimal", val: String(v) };
      case "json":
        return { tag: "json", val: jsonText(v) };
    }
  }
  switch (typeof v) {
    case "boolean":
      return { tag: "boolean", val: v };
    case "bigint":
      return { tag: "int", val: v };
    case "number":
      return Number.isInteger(v) ? { tag: "int", val: BigInt(v) } : { tag: "float", val: v };
    case "string":
      return { tag: "text", val: v };
  }
  if (isBytes(v)) return { tag: "bytes", val: v };
  if (v instanceof Date) return { tag: "timestamp", val: micros(v) };
  return { tag: "json", val: jsonText(v) };
}
