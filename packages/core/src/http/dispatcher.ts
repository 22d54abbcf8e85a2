import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from 'undici';
import type { HttpClientOptions } from './types.js';

/** Default maximum connections per origin of a dispatcher the client builds. */
export const DEFAULT_CONNECTIONS = 16;

/**
 * Builds the dispatcher an {@link HttpClient} uses when none is injected: an `Agent`, a `ProxyAgent`
 * for `proxy: 'http://...'`, or an `EnvHttpProxyAgent` for `proxy: 'env'` (HTTP_PROXY, HTTPS_PROXY,
 * NO_PROXY), with the TLS options applied to the connections to the origin.
 * @internal
 */
export function buildDispatcher(
  options: Pick<HttpClientOptions, 'proxy' | 'tls' | 'connections'>,
): Dispatcher {
  const connections = options.connections ?? DEFAULT_CONNECTIONS;
  const tls = options.tls === undefined ? undefined : { ...options.tls };
  if (options.proxy === 'env') {
    return new EnvHttpProxyAgent({
      connections,
      ...(tls === undefined ? {} : { connect: tls, requestTls: tls }),
    });
  }
  if (options.proxy !== undefined) {
    return new ProxyAgent({
      uri: options.proxy,
      connections,
      ...(tls === undefined ? {} : { requestTls: tls }),
    });
  }
  return new Agent({ connections, ...(tls === undefined ? {} : { connect: tls }) });
}
