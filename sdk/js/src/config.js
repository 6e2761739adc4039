// Typed config and state: a small schema helper that gives both the JSON
// Schema `spec` returns and a parser whose errors name the field. Plain
// JavaScript, so it runs inside the sandbox (no reflection, no codegen).

export class ParseError extends Error {
  /** @param {string} path dotted, "" for the top @param {string} problem */
  constructor(path, problem) {
    super(path ? `at \`${path}\`: ${problem}` : problem);
    this.path = path;
    this.problem = problem;
  }
}

function kindOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "boolean":
      return "a boolean";
    case "number":
      return Number.isInteger(v) ? "an integer" : "a number";
    case "string":
      return "a string"; // never the value: a config may hold secrets
    case "object":
      return "an object";
    default:
      return typeof v;
  }
}

const join = (path, key) =>
  typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/** One schema node: its JSON Schema and how to parse a value of it. */
class Schema {
  constructor(json, parse, opts = {}) {
    this._json = json;
    this._parse = parse;
    this.optional = !!opts.optional;
    this.hasDefault = opts.default !== undefined;
    this.default = opts.default;
    if (opts.description) this._json.description = opts.description;
    if (this.hasDefault) this._json.default = opts.default;
  }
  /** The JSON Schema of this node. */
  json() {
    return this._json;
  }
  /** `value` checked (and defaults filled in); throws ParseError. */
  parse(value, path = "") {
    return this._parse(value, path);
  }
}

function scalar(type, check, expected) {
  return (opts = {}) =>
    new Schema(
      { type },
      (v, path) => {
        if (check(v)) return v;
        throw new ParseError(path, `expected ${expected}, got ${kindOf(v)}`);
      },
      opts,
    );
}

/** Builders for config and state schemas. */
export const schema = {
  /** A whole number (safe in a double). */
  integer: scalar("integer", (v) => Number.isSafeInteger(v), "an integer"),
  /** Any number. */
  number: scalar("number", (v) => typeof v === "number" && Number.isFinite(v), "a number"),
  /** A string. */
  string: scalar("string", (v) => typeof v === "string", "a string"),
  /** true or false. */
  boolean: scalar("boolean", (v) => typeof v === "boolean", "a boolean"),
  /** Anything JSON. */
  any(opts = {}) {
    return new Schema({}, (v) => v, opts);
  },
  /** One of the given values. */
  enum(values, opts = {}) {
    return new Schema(
      { enum: [...values] },
      (v, path) => {
        if (values.includes(v)) return v;
        throw new ParseError(path, `expected one of ${values.map((x) => `\`${x}\``).join(", ")}`);
      },
      opts,
    );
  },
  /** An array of `items`. */
  array(items, opts = {}) {
    return new Schema(
      { type: "array", items: items.json() },
      (v, path) => {
        if (!Array.isArray(v)) throw new ParseError(path, `expected an array, got ${kindOf(v)}`);
        return v.map((x, i) => items.parse(x, join(path, i)));
      },
      opts,
    );
  },
  /** `inner`, or null / left out. */
  optional(inner) {
    const json = { ...inner.json() };
    if (typeof json.type === "string") json.type = [json.type, "null"];
    const s = new Schema(json, (v, path) => (v === null || v === undefined ? null : inner.parse(v, path)), {
      optional: true,
    });
    return s;
  },
  /** An object with exactly these properties (unknown ones are refused). */
  object(props, opts = {}) {
    const properties = {};
    const required = [];
    for (const [k, s] of Object.entries(props)) {
      properties[k] = s.json();
      if (!s.optional && !s.hasDefault) required.push(k);
    }
    const json = { type: "object", properties, additionalProperties: false };
    if (required.length) json.required = required;
    return new Schema(
      json,
      (v, path) => {
        if (v === null || typeof v !== "object" || Array.isArray(v)) {
          throw new ParseError(path, `expected an object, got ${kindOf(v)}`);
        }
        for (const k of Object.keys(v)) {
          if (!(k in props)) {
            throw new ParseError(
              join(path, k),
              `unknown field, expected one of ${Object.keys(props)
                .map((n) => `\`${n}\``)
                .join(", ")}`,
            );
          }
        }
        const out = {};
        for (const [k, s] of Object.entries(props)) {
          if (k in v) out[k] = s.parse(v[k], join(path, k));
          else if (s.hasDefault) out[k] = structuredCloneSafe(s.default);
          else if (s.optional) out[k] = null;
          else throw new ParseError("", `missing field \`${k}\`${path ? ` in \`${path}\`` : ""}`);
        }
        return out;
      },
      opts,
    );
  },
};

function structuredCloneSafe(v) {
  return v !== null && typeof v === "object" ? JSON.parse(JSON.stringify(v)) : v;
}

/** The JSON Schema `spec` returns for a config schema (any object without one). */
export function specOf(configSchema) {
  const base = { $schema: "https://json-schema.org/draft/2020-12/schema", title: "Config" };
  if (!configSchema) return { ...base, type: "object" };
  return { ...base, ...configSchema.json() };
}
