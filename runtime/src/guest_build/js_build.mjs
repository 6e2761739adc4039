// Run by airlock (`node js_build.mjs TOOLS ENTRY OUT_DIR WIT`) to build a
// JavaScript/TypeScript connector: rolldown bundles the generated entry (the
// connector, its imports and the SDK; TypeScript is stripped) into one
// module, and ComponentizeJS turns it into a component of the `connector`
// world. The tools are resolved from TOOLS, airlock's install of them.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [tools, entry, outDir, wit] = process.argv.slice(2);

/** Imports package `name` from TOOLS/node_modules by its ESM entry point. */
function load(name) {
  const dir = join(tools, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const pick = (e) => (typeof e === "string" ? e : e && (pick(e.import) || pick(e.default)));
  const exp = pkg.exports && (pkg.exports["."] !== undefined ? pkg.exports["."] : pkg.exports);
  const main = pick(exp) || pkg.module || pkg.main || "index.js";
  return import(pathToFileURL(join(dir, main)).href);
}

const { rolldown } = await load("rolldown");
const { componentize } = await load("@bytecodealliance/componentize-js");

const bundled = join(outDir, "bundle.js");
const bundle = await rolldown({
  input: entry,
  platform: "neutral",
  // The contract's interfaces are the component's imports, not modules to bundle.
  external: [/^airlock:/, /^wasi:/],
  // The SDK airlock carries, whatever the project's node_modules or
  // tsconfig `paths` say (a plugin resolves before either).
  plugins: [
    {
      name: "airlock-sdk",
      resolveId(id) {
        return id === "airlock-sdk" ? join(outDir, "airlock-sdk", "index.js") : null;
      },
    },
  ],
  logLevel: "warn",
});
await bundle.write({ file: bundled, format: "esm", sourcemap: false });
await bundle.close();

const { component } = await componentize({
  sourcePath: bundled,
  witPath: wit,
  worldName: "connector",
  // fetch() and incoming HTTP would import wasi:http, which the host does not
  // give connectors: their network is `airlock:connector/network`.
  disableFeatures: ["http", "fetch-event"],
});
writeFileSync(join(outDir, "connector.wasm"), component);
