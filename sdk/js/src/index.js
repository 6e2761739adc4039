// Write airlock data connectors in JavaScript or TypeScript. The rules
// behind it (tables, keys, batching, checkpoints, errors, networking) are
// the same in every language: see docs/connectors.md in the airlock repository.
export { schema, ParseError } from "./config.js";
export {
  AirlockError,
  AuthError,
  ConfigError,
  InternalError,
  NetError,
  NetworkError,
  SourceError,
} from "./errors.js";
export { log } from "./log.js";
export * as net from "./net.js";
export { MAX_BATCH_ROWS, Output } from "./output.js";
export { ColumnType, Table } from "./table.js";

/**
 * A data connector: extend it, set `static config` (and `static state`) to a
 * `schema.object(...)`, implement `discover` and `sync` (and `check`), and
 * `export default` the class from the entry module package.json names.
 */
export class Connector {
  /** Validates the parsed config beyond its shape; throw a ConfigError to refuse. */
  check(_config) {}
  /** The tables this connector writes (also called at the start of `sync`, so keep it cheap). */
  discover(_config) {
    throw new Error(`${this.constructor.name} must implement discover(config)`);
  }
  /** Emits records from `state` into `out`, checkpointing as it goes. */
  sync(_config, _state, _out) {
    throw new Error(`${this.constructor.name} must implement sync(config, state, out)`);
  }
}
