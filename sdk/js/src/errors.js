// The errors a connector throws, one class per kind of the contract's `error-kind`.

/** A failure to report to the host: a kind and a message a person can act on. */
export class AirlockError extends Error {
  /** @param {string} message never holding secrets */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
  /** The contract's `error-kind`. */
  get kind() {
    return "internal";
  }
}

/** The connector's config is wrong: the user must change it. */
export class ConfigError extends AirlockError {
  get kind() {
    return "config";
  }
}

/** The source refused the credentials. */
export class AuthError extends AirlockError {
  get kind() {
    return "auth";
  }
}

/** The source could not be reached. */
export class NetworkError extends AirlockError {
  get kind() {
    return "network";
  }
}

/** The source answered with an error (missing table, permission, ...). */
export class SourceError extends AirlockError {
  get kind() {
    return "source";
  }
}

/** A bug or an unexpected state in the connector. */
export class InternalError extends AirlockError {}

/**
 * A network failure: `netKind` is unknown-endpoint, denied, unreachable,
 * timeout, tls or closed. It is a NetworkError, so thrown out of `sync` the
 * host reports a network error.
 */
export class NetError extends NetworkError {
  /** @param {string} netKind @param {string} message */
  constructor(netKind, message) {
    super(`${netKind}: ${message}`);
    this.netKind = netKind;
    this.detail = message;
  }
}

const BY_KIND = {
  config: ConfigError,
  auth: AuthError,
  network: NetworkError,
  source: SourceError,
  internal: InternalError,
};

/** The SDK's error for an `error` record the host returned. */
export function hostError(e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  if (p && typeof p.kind === "string" && typeof p.message === "string") {
    return new (BY_KIND[p.kind] || InternalError)(p.message);
  }
  return e instanceof Error ? e : new InternalError(String(e));
}

/** Runs a host call, turning its error record into the SDK's error. */
export function call(f, ...args) {
  try {
    return f(...args);
  } catch (e) {
    throw hostError(e);
  }
}
