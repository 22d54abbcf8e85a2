import type * as Undici from 'undici';

/** The undici module, as `import('undici')` resolves it. @internal */
export type UndiciModule = typeof Undici;

let loading: Promise<UndiciModule> | undefined;
let loaded: UndiciModule | undefined;

/** undici if it has been loaded already (so a call needs not wait a turn for it), else undefined. @internal */
export function loadedUndici(): UndiciModule | undefined {
  return loaded;
}

/**
 * Loads undici on first use, once per process (~20 MiB of RSS that tools using only the artifact
 * reader or the keys never pay). A failed load is not cached, so a later call tries again.
 * @internal
 */
export function loadUndici(): Promise<UndiciModule> {
  if (loading === undefined) {
    const attempt: Promise<UndiciModule> = import('undici');
    attempt.then(
      (undici) => {
        if (loading === attempt) loaded = undici;
      },
      () => {
        if (loading === attempt) loading = undefined;
      },
    );
    loading = attempt;
  }
  return loading;
}
