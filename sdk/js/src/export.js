// The glue between the contract's `source` export and a connector class. The
// module airlock generates for a build does
// `export const source = sourceFor(TheDefaultExport)`.
import { specOf, ParseError } from "./config.js";
import { AirlockError, ConfigError, InternalError } from "./errors.js";
import { log } from "./log.js";
import { Output } from "./output.js";
import { witTable } from "./table.js";

function toWit(e) {
  // Thrown with a `payload`, the bindings return it as the call's `err`.
  return { payload: { kind: e.kind, message: e.message } };
}

function guard(call, body) {
  try {
    return body();
  } catch (e) {
    if (e instanceof AirlockError) throw toWit(e);
    const name = (e && e.constructor && e.constructor.name) || typeof e;
    const message = e instanceof Error ? e.message : String(e);
    const stack = e instanceof Error && e.stack ? e.stack : "";
    log.error(`uncaught ${name} in \`${call}\`: ${message}`);
    for (const line of stack.split("\n")) if (line.trim()) log.error(`  ${line.trim()}`);
    throw toWit(new InternalError(`uncaught ${name} in \`${call}\`: ${message} (the stack is in the log above)`));
  }
}

function parseConfig(schema, text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`invalid config: not JSON (${e.message})`);
  }
  if (!schema) return data;
  try {
    return schema.parse(data);
  } catch (e) {
    if (e instanceof ParseError) {
      throw new ConfigError(e.path ? `invalid config at \`${e.path}\`: ${e.problem}` : `invalid config: ${e.problem}`);
    }
    throw e;
  }
}

function parseState(schema, text) {
  try {
    if (text === undefined || text === null) return schema ? schema.parse({}) : {};
    const data = JSON.parse(text);
    return schema ? schema.parse(data) : data;
  } catch (e) {
    if (e instanceof AirlockError) throw e;
    throw new InternalError(
      `the stored state does not match this connector (${e.message}); run \`airlock reset\` to start over from a first sync`,
    );
  }
}

/** The `source` export for a connector class (a subclass of Connector). */
export function sourceFor(ConnectorClass) {
  if (typeof ConnectorClass !== "function") {
    throw new TypeError("the connector's entry module must `export default` a class extending Connector");
  }
  const spec = JSON.stringify(specOf(ConnectorClass.config));
  let instance = null;
  const get = () => (instance ??= new ConnectorClass());
  return {
    spec() {
      return spec;
    },
    check(config) {
      guard("check", () => {
        const c = get();
        c.check(parseConfig(ConnectorClass.config, config));
      });
    },
    discover(config) {
      return guard("discover", () => {
        const c = get();
        return c.discover(parseConfig(ConnectorClass.config, config)).map(witTable);
      });
    },
    sync(config, state) {
      guard("sync", () => {
        const c = get();
        const parsed = parseConfig(ConnectorClass.config, config);
        const st = parseState(ConnectorClass.state, state);
        const out = new Output(c.discover(parsed));
        c.sync(parsed, st, out);
        out.flush();
      });
    },
  };
}
