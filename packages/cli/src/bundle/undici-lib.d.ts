/**
 * Types of the files of undici's `lib/` that ./undici.ts imports (undici types only its entry).
 * Each is what undici's entry re-exports from that file.
 */
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { Dispatcher } from 'undici';

  const value: typeof Dispatcher;
  export default value;
}
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';

  const value: typeof Agent;
  export default value;
}
declare module 'undici/lib/dispatcher/proxy-agent.js' {
  import type { ProxyAgent } from 'undici';

  const value: typeof ProxyAgent;
  export default value;
}
declare module 'undici/lib/dispatcher/env-http-proxy-agent.js' {
  import type { EnvHttpProxyAgent } from 'undici';

  const value: typeof EnvHttpProxyAgent;
  export default value;
}
declare module 'undici/lib/core/errors.js' {
  import type { errors } from 'undici';

  const value: typeof errors;
  export default value;
}
declare module 'undici/lib/api/index.js' {
  import type { Dispatcher } from 'undici';

  /** The methods undici's entry assigns to `Dispatcher.prototype`. */
  const value: Pick<Dispatcher, 'request' | 'stream' | 'pipeline' | 'upgrade' | 'connect'>;
  export default value;
}
declare module 'undici/lib/global.js' {
  import type { Dispatcher } from 'undici';

  const value: { getGlobalDispatcher(): Dispatcher; setGlobalDispatcher(dispatcher: Dispatcher): void };
  export default value;
}
declare module 'undici/lib/core/util.js' {
  const value: { parseURL(url: string | URL | object): URL; parseOrigin(url: string | URL | object): URL };
  export default value;
}
