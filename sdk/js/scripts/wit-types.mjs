// Regenerates types/wit/ (TypeScript declarations of the contract's
// interfaces, as ComponentizeJS binds them) from the repository's wit/ with
// jco: `node scripts/wit-types.mjs TOOLS_DIR [WIT_DIR] [OUT_DIR]`, where
// TOOLS_DIR holds node_modules with @bytecodealliance/jco-transpile (airlock
// installs it into its cache: <cache>/tools/componentize-js-*-jco-*).
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [tools, wit = join(here, "../../../wit"), out = join(here, "../types/wit")] = process.argv.slice(2);
if (!tools) {
  console.error("usage: node scripts/wit-types.mjs TOOLS_DIR [WIT_DIR] [OUT_DIR]");
  process.exit(2);
}
const req = createRequire(join(resolve(tools), "node_modules", "@bytecodealliance", "jco", "package.json"));
const transpiler = createRequire(req.resolve("@bytecodealliance/jco-transpile"));
// jco-transpile reads the WIT through a WASI shim that starts with no
// directories open: give it the file system, read-only use.
const { _setPreopens } = await import(pathToFileURL(transpiler.resolve("@bytecodealliance/preview2-shim/filesystem")).href);
_setPreopens({ "/": "/" });
const { generateGuestTypes } = await import(pathToFileURL(req.resolve("@bytecodealliance/jco-transpile")).href);
const files = await generateGuestTypes(resolve(wit), { worldName: "connector", outDir: "" });
for (const [name, bytes] of Object.entries(files)) {
  const path = join(out, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}
console.log(`wrote ${Object.keys(files).length} files to ${out}`);
