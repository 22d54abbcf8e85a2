/**
 * The undici of `otakit device ...` (the bundle `dist/otakit-device.cjs`, see tsup.config.ts):
 * what `@otakit/core`'s HTTP client takes from `import('undici')` (core/src/http/undici.ts and
 * every `undici.X` of core/src/http), built from undici's own `lib/` files instead of its entry.
 * undici's entry also loads fetch, WebSocket, EventSource, the cache stores, the mock agents and
 * the interceptors, none of which the agent uses: measured with `node --expose-gc` after 20
 * requests and `gc()` (--liftoff-only), `require('undici')` and requests cost ~61 MiB of RSS and
 * these files ~53 MiB (bare node: ~39 MiB). The classes are undici's own (the same `lib/` files
 * its entry re-exports), so a dispatcher, an error's class and `Dispatcher.prototype.request`
 * behave as with `require('undici')`.
 *
 * `device run` sends over core's `transport: 'node'`, a dispatcher of core's own over Node's HTTP
 * client, with undici's request API and errors from here: undici's agents (its pool, HTTP/1
 * client and WebAssembly parser) are loaded when first read, for a proxy.
 *
 * Left out on purpose: fetch's `FormData` and `Response` are Node's global ones (a FormData body
 * in this bundle can only be Node's, and its own `Response` encodes it), read when a FormData is
 * sent, not at load. In the bundle, `node:assert` and undici's HTTP/2 client are replaced too
 * (./assert.ts, ./no-http2.ts).
 */
import type * as Undici from 'undici';
import api from 'undici/lib/api/index.js';
import errors from 'undici/lib/core/errors.js';
import util from 'undici/lib/core/util.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';

/**
 * undici's agents and its global dispatcher, each loaded when first read: `otakit device run`
 * sends over core's `transport: 'node'` (Node's HTTP client), so undici's connection pool, its
 * HTTP/1 client and its WebAssembly parser are loaded only for a proxy (or a global dispatcher)
 * and are otherwise source text the agent never runs (undici's `global.js` also makes an `Agent`
 * when it loads). `require`, not `import()`: esbuild compiles these files into the bundle all the
 * same, as functions run on the first `require`. Measured with bench/device.bench.ts, together
 * with core's node transport: idle `device run` 51.9 -> 48.5 MiB with the agents loaded at start
 * and 48.3 loaded when read (bare node 39.5 in each run; the step is within the bench's noise,
 * but undici's global `Agent` and its timers are no longer made at all).
 */
let agents: Pick<typeof Undici, 'Agent' | 'ProxyAgent' | 'EnvHttpProxyAgent'> | undefined;
function undiciAgents(): Pick<typeof Undici, 'Agent' | 'ProxyAgent' | 'EnvHttpProxyAgent'> {
  agents ??= {
    Agent: require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent,
    ProxyAgent: require('undici/lib/dispatcher/proxy-agent.js') as typeof Undici.ProxyAgent,
    EnvHttpProxyAgent:
      require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent,
  };
  return agents;
}

/** undici's global dispatcher (an `Agent` it makes when first loaded). */
function globalDispatcher(): Undici.Dispatcher {
  return (
    require('undici/lib/global.js') as { getGlobalDispatcher(): Undici.Dispatcher }
  ).getGlobalDispatcher();
}

// As undici's entry does: `request`, `stream`, `pipeline`, `upgrade` and `connect` on every
// dispatcher (idempotent: the same functions when undici's entry has run in this process too).
Object.assign(Dispatcher.prototype, api);

/** The members of undici that core uses (test/device-bundle.test.ts checks core uses no other). */
export type UndiciSubset = Pick<
  typeof Undici,
  'request' | 'Dispatcher' | 'Agent' | 'ProxyAgent' | 'EnvHttpProxyAgent' | 'FormData' | 'Response' | 'errors'
>;

/**
 * `undici.request(url, options)`: undici's entry's `makeDispatcher(api.request)`, the URL parsed
 * and checked the same way, sent through `options.dispatcher` or else the global dispatcher.
 */
function request(
  url: string | URL | object,
  options?: { dispatcher?: Undici.Dispatcher; agent?: unknown; path?: unknown } & Partial<
    Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'>
  >,
): Promise<Undici.Dispatcher.ResponseData<unknown>> {
  // (undici's entry also accepts `url instanceof URL`, which is an object.)
  if (!url || (typeof url !== 'string' && typeof url !== 'object')) {
    throw new errors.InvalidArgumentError('invalid url');
  }
  if (options != null && typeof options !== 'object') {
    throw new errors.InvalidArgumentError('invalid opts');
  }
  let opts = options;
  let target: URL;
  if (opts && opts.path != null) {
    if (typeof opts.path !== 'string') throw new errors.InvalidArgumentError('invalid opts.path');
    const path = opts.path.startsWith('/') ? opts.path : `/${opts.path}`;
    target = new URL(util.parseOrigin(url).origin + path);
  } else {
    if (!opts) opts = (typeof url === 'object' ? url : {}) as unknown as typeof opts;
    target = util.parseURL(url);
  }
  const { agent, dispatcher = globalDispatcher() } = opts ?? {};
  if (agent) throw new errors.InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
  return Dispatcher.prototype.request.call(dispatcher, {
    ...(opts as object),
    origin: target.origin,
    path: target.search ? `${target.pathname}${target.search}` : target.pathname,
    method: opts?.method || (opts?.body ? 'PUT' : 'GET'),
  } as Undici.Dispatcher.RequestOptions);
}

/** What the bundle gives core's `import('undici')`. */
export const undiciSubset = {
  request: request as UndiciSubset['request'],
  Dispatcher,
  get Agent(): UndiciSubset['Agent'] {
    return undiciAgents().Agent;
  },
  get ProxyAgent(): UndiciSubset['ProxyAgent'] {
    return undiciAgents().ProxyAgent;
  },
  get EnvHttpProxyAgent(): UndiciSubset['EnvHttpProxyAgent'] {
    return undiciAgents().EnvHttpProxyAgent;
  },
  errors,
  get FormData(): UndiciSubset['FormData'] {
    return globalThis.FormData as unknown as UndiciSubset['FormData'];
  },
  get Response(): UndiciSubset['Response'] {
    return globalThis.Response as unknown as UndiciSubset['Response'];
  },
} satisfies UndiciSubset;
