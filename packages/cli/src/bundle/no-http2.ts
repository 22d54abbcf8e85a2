/**
 * undici's `lib/dispatcher/client-h2.js` in the device bundle (see tsup.config.ts). The real one
 * requires `node:http2` when undici loads (~2 MiB of resident memory), though undici only calls it
 * for a connection that negotiated HTTP/2, which happens only when a dispatcher is built with
 * `allowH2` (or `useH2c`): otakit's clients never set either, so the agent speaks HTTP/1.1 only.
 * Reaching this is a bug: it fails that connection with a clear error instead of loading http2.
 */

/** Thrown when a connection of the device bundle's undici negotiated HTTP/2. */
export class Http2NotBundledError extends Error {
  override readonly name = 'Http2NotBundledError';
  readonly code = 'ERR_OTAKIT_HTTP2_NOT_BUNDLED';
  constructor() {
    super(
      "otakit's device bundle speaks HTTP/1.1 only (undici's HTTP/2 client is left out); a connection negotiated h2, which needs allowH2",
    );
  }
}

/** What undici's client calls for an h2 connection (`connectH2(client, socket)`). */
export function connectH2(): never {
  throw new Http2NotBundledError();
}
