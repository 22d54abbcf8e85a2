/**
 * Types of the files of undici's `lib/` that ./undici.ts imports (undici types only its entry).
 * Each is what undici's entry re-exports from that file. (The agents it `require`s when first
 * read are typed where they are required.)
 */
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { Dispatcher } from 'undici';

  const value: typeof Dispatcher;
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
declare module 'undici/lib/core/util.js' {
  const value: { parseURL(url: string | URL | object): URL; parseOrigin(url: string | URL | object): URL };
  export default value;
}
