// The SDK's pure parts, in plain Node: schemas, config parsing and values
// by column type. (The rest needs the host: tests/all/js.rs in the repository.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { schema, specOf, ParseError } from "../src/config.js";
import { column, Mismatch, value } from "../src/columns.js";
import { ColumnType, Table, witTable } from "../src/table.js";

const Config = schema.object(
  {
    path: schema.string({ description: "Where the API lives." }),
    users: schema.integer({ default: 1000 }),
    token: schema.optional(schema.string()),
    mode: schema.enum(["full", "incremental"], { default: "full" }),
    tags: schema.array(schema.string(), { default: [] }),
  },
  { description: "Makes up users." },
);

test("a schema is a JSON Schema", () => {
  const s = specOf(Config);
  assert.deepEqual(s.required, ["path"]);
  assert.equal(s.description, "Makes up users.");
  assert.deepEqual(s.properties.users, { type: "integer", default: 1000 });
  assert.deepEqual(s.properties.token.type, ["string", "null"]);
  assert.equal(s.additionalProperties, false);
});

test("parsing fills defaults and names the field, never the value", () => {
  assert.deepEqual(Config.parse({ path: "/x" }), { path: "/x", users: 1000, token: null, mode: "full", tags: [] });
  for (const [data, path, problem] of [
    [{ path: "/x", users: "secret" }, "users", "expected an integer, got a string"],
    [{ path: "/x", users: 1.5 }, "users", "expected an integer, got a number"],
    [{ path: "/x", tags: ["a", 2] }, "tags[1]", "expected a string, got an integer"],
    [{ path: "/x", tgas: [] }, "tgas", "unknown field"],
    [{ path: "/x", mode: "both" }, "mode", "expected one of `full`, `incremental`"],
    [{}, "", "missing field `path`"],
  ]) {
    assert.throws(
      () => Config.parse(data),
      (e) => e instanceof ParseError && e.path === path && e.problem.includes(problem) && !e.message.includes("secret"),
    );
  }
});

test("values become column slots", () => {
  const [ints] = column(ColumnType.INT, [1, null, 3n]);
  assert.deepEqual(ints.valid, [true, false, true]);
  assert.deepEqual([...ints.data.val], [1n, 0n, 3n]);
  const [text, bytes] = column(ColumnType.TEXT, ["ab", "é"]);
  assert.equal(bytes, 4);
  assert.deepEqual([...text.data.val.ends], [2, 4]);
  const [ts] = column(ColumnType.TIMESTAMP, [new Date(1000), 7]);
  assert.deepEqual([...ts.data.val], [1_000_000n, 7n]);
  const [days] = column(ColumnType.DATE, [new Date(Date.UTC(1969, 11, 31, 12)), 3]);
  assert.deepEqual([...days.data.val], [-1, 3]);
  const [nulls] = column(ColumnType.JSON, [null, undefined]);
  assert.equal(nulls.data.tag, "null");
  const [json] = column(ColumnType.JSON, [{ a: 1 }, "[1]"]);
  assert.equal(new TextDecoder().decode(json.data.val.data), '{"a":1}[1]');
});

test("a value of another type is a mismatch, and keeps its own type alone", () => {
  for (const [t, values] of [
    [ColumnType.INT, [1, "2"]],
    [ColumnType.INT, [1.5]],
    [ColumnType.BOOLEAN, [1]],
    [ColumnType.BYTES, ["x"]],
  ]) {
    assert.throws(() => column(t, values), Mismatch);
  }
  assert.deepEqual(value("2", ColumnType.INT), { tag: "text", val: "2" });
  assert.deepEqual(value(3, ColumnType.FLOAT), { tag: "float", val: 3 });
  assert.deepEqual(value(3), { tag: "int", val: 3n });
});

test("tables become the contract's schema", () => {
  const t = new Table("t").column("id", ColumnType.INT).nullable("d", ColumnType.decimal(12, 2)).key("id");
  assert.deepEqual(witTable(t), {
    name: "t",
    columns: [
      { name: "id", type: { tag: "int" }, nullable: false },
      { name: "d", type: { tag: "decimal", val: { precision: 12, scale: 2 } }, nullable: true },
    ],
    primaryKey: ["id"],
  });
});
