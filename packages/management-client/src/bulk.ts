import { type ItemResult, type MapConcurrentOptions, mapConcurrent } from '@otakit/core';

/** The outcome of one item of a bulk call (core's `ItemResult`). */
export type BulkItemResult<I, R> = ItemResult<I, R>;

/** The outcome of a bulk call: one result per item, in input order, plus counts. */
export interface BulkResult<I, R> {
  results: BulkItemResult<I, R>[];
  succeeded: number;
  failed: number;
}

/**
 * Options of the `...Many` bulk helpers (core's `MapConcurrentOptions`): `concurrency` (default 8),
 * `signal` (no new item starts once aborted; items not started fail with the abort reason) and
 * `onResult` (called as each item finishes, in completion order).
 */
export type BulkOptions<I, R> = MapConcurrentOptions<I, R>;

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, never stopping at a failure:
 * every item gets a result. Items can be any iterable or async iterable (an array, a generator, a
 * paged listing). Core's `mapConcurrent`, plus the counts.
 *
 * @example
 * ```ts
 * const { failed, results } = await runBulk(ids, (id) => mgmt.devices.accept(id), { concurrency: 16 })
 * for (const r of results) if (!r.ok) console.error(r.item, r.error)
 * ```
 */
export async function runBulk<I, R>(
  items: Iterable<I> | AsyncIterable<I>,
  fn: (item: I, index: number) => Promise<R>,
  opts: BulkOptions<I, R> = {},
): Promise<BulkResult<I, R>> {
  const results = await mapConcurrent(items, fn, opts);
  const succeeded = results.filter((r) => r.ok).length;
  return { results, succeeded, failed: results.length - succeeded };
}
