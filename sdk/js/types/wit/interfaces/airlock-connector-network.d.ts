/// <reference path="./wasi-io-streams.d.ts" />
declare module 'airlock:connector/network@0.1.0' {
  /**
   * The endpoints this connector may connect to.
   */
  export function endpoints(): Array<Endpoint>;
  /**
   * Opens a connection to the endpoint called `name`.
   */
  export function connect(name: string): Connection;
  export type InputStream = import('wasi:io/streams@0.2.12').InputStream;
  export type OutputStream = import('wasi:io/streams@0.2.12').OutputStream;
  /**
   * How TLS is done on an endpoint, as configured.
   * # Variants
   * 
   * ## `"disable"`
   * 
   * Clear text; `upgrade-tls` is refused.
   * ## `"prefer"`
   * 
   * TLS when the connector negotiates it in-band (`upgrade-tls`), clear otherwise.
   * ## `"require"`
   * 
   * TLS only. With an immediate handshake the connection is TLS from its first
   * byte; with an in-band one, only a short clear preamble is allowed before
   * `upgrade-tls` (see the host's docs).
   */
  export type TlsMode = 'disable' | 'prefer' | 'require';
  /**
   * An endpoint this connector may connect to.
   */
  export interface Endpoint {
    /**
     * The name the config gives it, e.g. "source"; what `connect` takes.
     */
    name: string,
    /**
     * The source's real host name (e.g. for an HTTP `Host` header). Not
     * necessarily where the bytes go: the route is the host's business.
     */
    host: string,
    port: number,
    tls: TlsMode,
    /**
     * Whether the host does the TLS handshake when connecting (HTTPS-style)
     * rather than waiting for `upgrade-tls` (PostgreSQL-style).
     */
    tlsImmediate: boolean,
  }
  /**
   * # Variants
   * 
   * ## `"unknown-endpoint"`
   * 
   * No endpoint of that name in the config.
   * ## `"denied"`
   * 
   * The egress policy or a limit refused it.
   * ## `"unreachable"`
   * 
   * Name lookup, the route or the peer failed.
   * ## `"timeout"`
   * 
   * A connect or handshake took too long.
   * ## `"tls"`
   * 
   * The TLS handshake failed (certificate, name, protocol).
   * ## `"closed"`
   * 
   * The connection is closed or in a state that does not allow the call.
   */
  export type NetworkErrorKind = 'unknown-endpoint' | 'denied' | 'unreachable' | 'timeout' | 'tls' | 'closed';
  export interface NetworkError {
    kind: NetworkErrorKind,
    /**
     * What happened and what to do, for a person. Never holds secrets.
     */
    message: string,
  }
  
  export class Connection implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * The bytes from the peer. A child of the connection: drop it before the
    * connection, and before `upgrade-tls`. Fails if one is already out.
    */
    input(): InputStream;
    /**
    * The bytes to the peer; same rules as `input`.
    */
    output(): OutputStream;
    /**
    * Starts TLS in-band (after e.g. PostgreSQL's SSLRequest was answered 'S').
    * Both streams must have been dropped; take new ones afterwards.
    */
    upgradeTls(): void;
    /**
    * The negotiated TLS version ("TLSv1.3"), if the connection is encrypted.
    */
    tlsVersion(): string | undefined;
    [Symbol.dispose](): void;
  }
}
