// Types of the airlock SDK for JavaScript and TypeScript connectors. The
// contract's own types (generated from wit/ by `npm run wit-types`) are in
// ./wit/; this file describes the SDK built on them.
/// <reference path="./wit/connector.d.ts" />

/** A schema node: its JSON Schema and a parser. `Infer<typeof s>` is the parsed type. */
export interface Schema<T> {
  json(): object;
  parse(value: unknown, path?: string): T;
  readonly optional: boolean;
  /** Phantom: the parsed type. */
  readonly __type?: T;
}
export type Infer<S> = S extends Schema<infer T> ? T : never;

interface Opts<T> {
  description?: string;
  default?: T;
}

export declare const schema: {
  integer(opts?: Opts<number>): Schema<number>;
  number(opts?: Opts<number>): Schema<number>;
  string(opts?: Opts<string>): Schema<string>;
  boolean(opts?: Opts<boolean>): Schema<boolean>;
  any(opts?: Opts<unknown>): Schema<unknown>;
  enum<const V extends readonly (string | number)[]>(values: V, opts?: Opts<V[number]>): Schema<V[number]>;
  array<T>(items: Schema<T>, opts?: Opts<T[]>): Schema<T[]>;
  optional<T>(inner: Schema<T>): Schema<T | null>;
  object<P extends Record<string, Schema<any>>>(
    props: P,
    opts?: { description?: string },
  ): Schema<{ [K in keyof P]: Infer<P[K]> }>;
};

export declare class ParseError extends Error {
  readonly path: string;
  readonly problem: string;
}

/** A failure to report to the host; throw one of the subclasses. */
export declare class AirlockError extends Error {
  constructor(message: string);
  readonly kind: "config" | "auth" | "network" | "source" | "internal";
}
/** The connector's config is wrong: the user must change it. */
export declare class ConfigError extends AirlockError {}
/** The source refused the credentials. */
export declare class AuthError extends AirlockError {}
/** The source could not be reached. */
export declare class NetworkError extends AirlockError {}
/** The source answered with an error (missing table, permission, ...). */
export declare class SourceError extends AirlockError {}
/** A bug or an unexpected state in the connector. */
export declare class InternalError extends AirlockError {}
/** A network failure of one kind of the contract's network-error-kind. */
export declare class NetError extends NetworkError {
  constructor(netKind: NetErrorKind, message: string);
  readonly netKind: NetErrorKind;
  readonly detail: string;
}
export type NetErrorKind = "unknown-endpoint" | "denied" | "unreachable" | "timeout" | "tls" | "closed";

/** The type of a destination column. */
export declare class ColumnType {
  private constructor();
  readonly name: string;
  readonly precision: number;
  readonly scale: number;
  /** `boolean` */
  static readonly BOOLEAN: ColumnType;
  /** 64-bit integer: a safe-integer `number` or a `bigint`. */
  static readonly INT: ColumnType;
  /** A `number`. */
  static readonly FLOAT: ColumnType;
  /** A `string`. */
  static readonly TEXT: ColumnType;
  /** A `Uint8Array`. */
  static readonly BYTES: ColumnType;
  /** A `Date`, or microseconds since the epoch as a `number` or `bigint`. */
  static readonly TIMESTAMP: ColumnType;
  /** A `Date` (its UTC day), or days since the epoch as a `number`. */
  static readonly DATE: ColumnType;
  /** A `string` (already JSON text) or any value `JSON.stringify` takes. */
  static readonly JSON: ColumnType;
  /** An exact decimal; a `string` in plain notation ("-12.50"), a `number` or a `bigint`. */
  static decimal(precision: number, scale: number): ColumnType;
}

/** A table the connector writes. */
export declare class Table {
  constructor(name: string);
  readonly name: string;
  readonly columns: { name: string; type: ColumnType; nullable: boolean }[];
  readonly primaryKey: string[];
  column(name: string, type: ColumnType): this;
  nullable(name: string, type: ColumnType): this;
  key(...columns: (string | string[])[]): this;
}

/** Where `sync` writes. */
export declare class Output {
  private constructor();
  readonly rowsEmitted: number;
  upsert(table: string, row: readonly unknown[]): void;
  delete(table: string, key: unknown): void;
  truncate(table: string): void;
  checkpoint(state: unknown): void;
  flush(): void;
}
export declare const MAX_BATCH_ROWS: number;

/** A data connector: extend it and `export default` the class. */
export declare abstract class Connector<C = any, S = any> {
  check(config: C): void;
  abstract discover(config: C): Table[];
  abstract sync(config: C, state: S, out: Output): void;
}

export declare const log: {
  trace(...parts: unknown[]): void;
  debug(...parts: unknown[]): void;
  info(...parts: unknown[]): void;
  warn(...parts: unknown[]): void;
  error(...parts: unknown[]): void;
};

export declare namespace net {
  const MAX_READ: number;
  const MAX_WRITE: number;
  interface Endpoint {
    name: string;
    host: string;
    port: number;
    tls: "disable" | "prefer" | "require";
    tlsImmediate: boolean;
  }
  function endpoints(): Endpoint[];
  function endpoint(name: string): Endpoint | undefined;
  function connect(name: string): Connection;
  class Connection {
    private constructor();
    readonly endpoint: string;
    /** Up to `max` bytes (at least one), or null at end of stream. */
    read(max?: number): Uint8Array | null;
    readAll(): Uint8Array;
    write(data: Uint8Array | string): void;
    unread(bytes: Uint8Array): void;
    upgradeTls(): void;
    tlsVersion(): string | undefined;
    close(): void;
  }
}
