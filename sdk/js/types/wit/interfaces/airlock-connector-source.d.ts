/// <reference path="./airlock-connector-types.d.ts" />
declare module 'airlock:connector/source@0.1.0' {
  /**
   * JSON Schema of the connector's config.
   */
  export function spec(): string;
  /**
   * Validate `config` (JSON) and, where it can, reach the source.
   */
  export function check(config: string): void;
  /**
   * The tables this connector can write, with their schemas.
   */
  export function discover(config: string): Array<TableSchema>;
  /**
   * Emit records from `state` (the last committed checkpoint, none on a first run).
   */
  export function sync(config: string, state: string | undefined): void;
  export type TableSchema = import('airlock:connector/types@0.1.0').TableSchema;
  export type Error = import('airlock:connector/types@0.1.0').Error;
}
