import type * as Undici from 'undici';

/** The undici module, as `import('undici')` resolves it. @internal */
export type UndiciModule = typeof Undici;

let loading: Promise<UndiciModule> | undefined;

/**
 * Loads undici on first use, once per process (~20 MiB of RSS that tools using only the artifact
 * reader or the keys never pay). A failed load is not cached, so a later call tries again.
 * @internal
 */
export function loadUndici(): Promise<UndiciModule> {
  if (loading === undefined) {
    const attempt: Promise<UndiciModule> = import('undici');
    attempt.catch(() => {
      if (loading === attempt) loading = undefined;
    });
    loading = attempt;
  }
  return loading;
}
