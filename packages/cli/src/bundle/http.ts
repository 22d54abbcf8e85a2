/**
 * What undici takes from `node:http`, for the undici of the device bundle (see tsup.config.ts),
 * without loading `node:http`: undici's `lib/core/util.js` compares a stream's constructor with
 * `http.IncomingMessage`, and `lib/dispatcher/client.js` reads `http.maxHeaderSize`, both when they
 * load. undici never runs an HTTP server or `http.request`, so `node:http` was loaded for those
 * two reads only, and with it `_http_agent`, `_http_client`, `_http_server`, `_http_incoming`,
 * `_http_outgoing` and `perf_hooks`. Measured with bench/device.bench.ts (idle `otakit device run`,
 * together with ./performance.ts): ~0.7 MiB less RSS. (The agent now sends over core's
 * `transport: 'node'`, which takes Node's HTTP client from `_http_agent` and `_http_client`, still
 * without `node:http`, its server or perf_hooks.)
 */

/** Node's default `--max-http-header-size` (16 KiB since Node 14). */
const NODE_DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

/** The option, as Node accepts it (`-` or `_` between words). */
const MAX_HEADER_SIZE_OPTION = /--max[-_]http[-_]header[-_]size/;

/**
 * `http.maxHeaderSize`: Node's default unless this process was given `--max-http-header-size`
 * (on its command line or in NODE_OPTIONS), in which case `node:http` is asked.
 */
export function maxHeaderSize(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string | undefined = process.env.NODE_OPTIONS,
): number {
  if (
    execArgv.some((arg) => MAX_HEADER_SIZE_OPTION.test(arg)) ||
    MAX_HEADER_SIZE_OPTION.test(nodeOptions ?? '')
  ) {
    return process.getBuiltinModule('node:http').maxHeaderSize;
  }
  return NODE_DEFAULT_MAX_HEADER_SIZE;
}

/** The `node:http` of undici's `lib/dispatcher/client.js`: it reads `maxHeaderSize` only. */
export const httpForClient = {
  get maxHeaderSize(): number {
    return maxHeaderSize();
  },
};

/**
 * Whether `ctor` (a constructor) is `http.IncomingMessage` (what undici's `util.destroy` checks before
 * destroying a stream): `node:http` is loaded only for a class of that name, and an
 * IncomingMessage exists only once something else has loaded `node:http`.
 */
export function isIncomingMessage(ctor: unknown): boolean {
  return (
    typeof ctor === 'function' &&
    ctor.name === 'IncomingMessage' &&
    ctor === process.getBuiltinModule('node:http').IncomingMessage
  );
}
