// Network handles: the connector's only way out of the sandbox. The host
// resolves, applies its egress policy, dials the configured route and does
// TLS; the connector gets a blocking byte stream.
import * as network from "airlock:connector/network@0.1.0";
import { NetError } from "./errors.js";

/** The most bytes one read asks the host for. */
export const MAX_READ = 64 * 1024;
/** The most bytes one host write takes (the host traps on larger chunks): `write` splits at it. */
export const MAX_WRITE = 4096;

const encoder = new TextEncoder();
// The bindings' resources release their handle with this method (the
// engine may predate `Symbol.dispose`; the bindings fall back the same way).
const dispose = Symbol.dispose || Symbol.for("dispose");

function netError(e) {
  const p = e && e.payload !== undefined ? e.payload : e;
  if (p && typeof p.kind === "string") return new NetError(p.kind, p.message);
  return e instanceof Error ? e : new NetError("closed", String(e));
}

/** The endpoints this connector may connect to: {name, host, port, tls, tlsImmediate}. */
export function endpoints() {
  return network.endpoints();
}

/** The endpoint called `name`, or undefined. */
export function endpoint(name) {
  return endpoints().find((e) => e.name === name);
}

/** Opens a connection to the endpoint called `name` (TLS done already for immediate-TLS endpoints). */
export function connect(name) {
  try {
    return new Connection(network.connect(name), name);
  } catch (e) {
    throw netError(e);
  }
}

/**
 * A byte stream to an endpoint. `read()` blocks until bytes are there and
 * returns null once the peer closed its side (end of stream, not an error);
 * `write()` sends everything, in chunks the host accepts; `close()` drops its
 * streams before the connection, as the host requires.
 */
export class Connection {
  constructor(conn, endpoint) {
    this._conn = conn;
    this._in = null;
    this._out = null;
    /** The endpoint's name. */
    this.endpoint = endpoint;
    this._pending = null; // bytes read past a line, for readLine
  }

  /** Up to `max` bytes (at least one), or null at end of stream. */
  read(max = MAX_READ) {
    if (this._pending) {
      const p = this._pending;
      if (p.length <= max) {
        this._pending = null;
        return p;
      }
      this._pending = p.subarray(max);
      return p.subarray(0, max);
    }
    const input = this._input();
    const want = BigInt(Math.max(1, Math.min(max, MAX_READ)));
    for (;;) {
      let bytes;
      try {
        bytes = input.blockingRead(want);
      } catch (e) {
        const p = e && e.payload;
        if (p && p.tag === "closed") return null;
        throw this._failed("read", p && p.val ? p.val.toDebugString() : String(e));
      }
      if (bytes.length > 0) return bytes;
    }
  }

  /** Everything until the peer closes, as one Uint8Array. */
  readAll() {
    const parts = [];
    let total = 0;
    for (let b; (b = this.read()) !== null; ) {
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Sends all of `data` (a Uint8Array or a string, as UTF-8). */
  write(data) {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const out = this._output();
    for (let at = 0; at < bytes.length; at += MAX_WRITE) {
      try {
        out.blockingWriteAndFlush(bytes.subarray(at, at + MAX_WRITE));
      } catch (e) {
        const p = e && e.payload;
        if (p && p.tag === "closed") throw new NetError("closed", `endpoint \`${this.endpoint}\` closed the connection`);
        throw this._failed("write", p && p.val ? p.val.toDebugString() : String(e));
      }
    }
  }

  /** Puts bytes back to be returned by the next read (for protocol parsers that read ahead). */
  unread(bytes) {
    if (bytes.length === 0) return;
    if (!this._pending) this._pending = bytes;
    else {
      const merged = new Uint8Array(bytes.length + this._pending.length);
      merged.set(bytes);
      merged.set(this._pending, bytes.length);
      this._pending = merged;
    }
  }

  /** Starts TLS in-band (after e.g. PostgreSQL answered an SSLRequest with `S`). */
  upgradeTls() {
    this._dropStreams();
    this._pending = null;
    try {
      this._conn.upgradeTls();
    } catch (e) {
      throw netError(e);
    }
  }

  /** The negotiated TLS version ("TLSv1.3"), or undefined on clear text. */
  tlsVersion() {
    return this._conn.tlsVersion();
  }

  /** Closes the connection: its streams first. */
  close() {
    this._dropStreams();
    if (this._conn) {
      this._conn[dispose]();
      this._conn = null;
    }
  }

  _input() {
    if (!this._conn) throw new NetError("closed", `the connection to endpoint \`${this.endpoint}\` is closed`);
    if (!this._in) {
      try {
        this._in = this._conn.input();
      } catch (e) {
        throw netError(e);
      }
    }
    return this._in;
  }

  _output() {
    if (!this._conn) throw new NetError("closed", `the connection to endpoint \`${this.endpoint}\` is closed`);
    if (!this._out) {
      try {
        this._out = this._conn.output();
      } catch (e) {
        throw netError(e);
      }
    }
    return this._out;
  }

  _dropStreams() {
    if (this._in) {
      this._in[dispose]();
      this._in = null;
    }
    if (this._out) {
      this._out[dispose]();
      this._out = null;
    }
  }

  _failed(op, detail) {
    detail = detail.split("\nStack backtrace:")[0];
    const kind = detail.toLowerCase().includes("timed out") ? "timeout" : "closed";
    return new NetError(kind, `${op} on endpoint \`${this.endpoint}\` failed: ${detail}`);
  }
}
