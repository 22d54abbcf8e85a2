import { AbortError } from '@otakit/core';

/** The outcome of one item of a bulk call. */
export type BulkItemResult<I, R> =
  | { ok: true; index: number; item: I; value: R }
  | { ok: false; index: number; item: I; error: unknown };

/** The outcome of a bulk call: one result per item, in input order, plus counts. */
export interface BulkResult<I, R> {
  results: BulkItemResult<I, R>[];
  succeeded: number;
  failed: number;
}

/** Options of the `...Many` bulk helpers. */
export interface BulkOptions<I, R> {
  /** How many calls run at once. Default 8. */
  concurrency?: number;
  /** Stops starting new items when aborted; items not started fail with the abort reason. */
  signal?: AbortSignal;
  /** Called as each item finishes (success or failure), in completion order. */
  onResult?: (result: BulkItemResult<I, R>) => void;
}

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, never stopping at a failure:
 * every item gets a result. Items can be any iterable (an array or a generator).
 *
 * @example
 * ```ts
 * const { failed, results } = await runBulk(ids, (id) => mgmt.devices.accept(id), { concurrency: 16 })
 * for (const r of results) if (!r.ok) console.error(r.item, r.error)
 * ```
 */
export async function runBulk<I, R>(
  items: Iterable<I>,
  fn: (item: I, index: number) => Promise<R>,
  opts: BulkOptions<I, R> = {},
): Promise<BulkResult<I, R>> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8));
  const results: BulkItemResult<I, R>[] = [];
  let succeeded = 0;
  let failed = 0;
  const iterator = items[Symbol.iterator]();
  let index = 0;
  const record = (result: BulkItemResult<I, R>): void => {
    results[result.index] = result;
    if (result.ok) succeeded++;
    else failed++;
    opts.onResult?.(result);
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      const next = iterator.next();
      if (next.done) return;
      const i = index++;
      const item = next.value;
      if (opts.signal?.aborted) {
        record({ ok: false, index: i, item, error: opts.signal.reason ?? new AbortError() });
        continue;
      }
      try {
        record({ ok: true, index: i, item, value: await fn(item, i) });
      } catch (error) {
        record({ ok: false, index: i, item, error });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { results, succeeded, failed };
}
