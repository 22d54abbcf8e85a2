import type { Dispatcher } from 'undici';
import { NodeHttpDispatcher } from './node-dispatcher.js';
import type { HttpClientOptions, TlsOptions } from './types.js';
import type { UndiciModule } from './undici.js';

/** Default maximum connections per origin of a dispatcher the client builds. */
export const DEFAULT_CONNECTIONS = 16;

/**
 * What {@link buildDispatcher} needs, fixed when the client is constructed: the options (TLS copied)
 * and, for `proxy: 'env'`, HTTP_PROXY and HTTPS_PROXY as they were then (`''` when unset).
 * @internal
 */
export interface DispatcherPlan {
  proxy: string | undefined;
  tls: TlsOptions | undefined;
  connections: number;
  transport: 'undici' | 'node';
  env?: { httpProxy: string; httpsProxy: string };
}

/**
 * Fixes the dispatcher an {@link HttpClient} will build, without loading undici. Reads the proxy
 * variables now, and throws now for an invalid proxy URL, as building the dispatcher at once would.
 * @internal
 */
export function planDispatcher(
  options: Pick<HttpClientOptions, 'proxy' | 'tls' | 'connections' | 'transport'>,
): DispatcherPlan {
  const plan: DispatcherPlan = {
    proxy: options.proxy,
    tls: options.tls === undefined ? undefined : { ...options.tls },
    connections: options.connections ?? DEFAULT_CONNECTIONS,
    transport: options.transport ?? 'undici',
  };
  if (options.proxy === 'env') {
    // The variables undici's EnvHttpProxyAgent reads when it is constructed (NO_PROXY it rereads).
    const httpProxy = process.env.http_proxy ?? process.env.HTTP_PROXY ?? '';
    const httpsProxy = process.env.https_proxy ?? process.env.HTTPS_PROXY ?? '';
    for (const uri of [httpProxy, httpsProxy]) if (uri !== '') new URL(uri);
    plan.env = { httpProxy, httpsProxy };
  } else if (options.proxy !== undefined) {
    new URL(options.proxy);
  }
  return plan;
}

/**
 * Builds the dispatcher an {@link HttpClient} uses when none is injected: an `Agent`, a `ProxyAgent`
 * for `proxy: 'http://...'`, or an `EnvHttpProxyAgent` for `proxy: 'env'` (HTTP_PROXY, HTTPS_PROXY,
 * NO_PROXY), with the TLS options applied to the connections to the origin; with `transport: 'node'`
 * and no proxy, a {@link NodeHttpDispatcher}.
 * @internal
 */
export function buildDispatcher(undici: UndiciModule, plan: DispatcherPlan): Dispatcher {
  const { connections, tls } = plan;
  if (plan.proxy === 'env') {
    return new undici.EnvHttpProxyAgent({
      connections,
      // '' (unset when the client was constructed) means no proxy, as undici reads it.
      ...(plan.env === undefined ? {} : { httpProxy: plan.env.httpProxy, httpsProxy: plan.env.httpsProxy }),
      ...(tls === undefined ? {} : { connect: tls, requestTls: tls }),
    });
  }
  if (plan.proxy !== undefined) {
    return new undici.ProxyAgent({
      uri: plan.proxy,
      connections,
      ...(tls === undefined ? {} : { requestTls: tls }),
    });
  }
  if (plan.transport === 'node') {
    return new NodeHttpDispatcher(undici, { connections, tls }) as unknown as Dispatcher;
  }
  return new undici.Agent({ connections, ...(tls === undefined ? {} : { connect: tls }) });
}
