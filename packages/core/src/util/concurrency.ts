import { abortReason } from '../http/abort.js';

/** The outcome of one item of {@link mapConcurrent}: its value or its error, never both. */
export type ItemResult<I, R> =
  | { ok: true; index: number; item: I; value: R }
  | { ok: false; index: number; item: I; error: unknown };

/** Options of {@link mapConcurrent}. */
export interface MapConcurrentOptions<I, R> {
  /** How many calls run at once. Default 8; at least 1. */
  concurrency?: number;
  /** When aborted, no new item starts; items not started fail with the signal's reason (an otakit `AbortError` for a plain `abort()`). */
  signal?: AbortSignal;
  /** Called as each item finishes, in completion order. */
  onResult?: (result: ItemResult<I, R>) => void;
}

/**
 * Runs `fn` over `items` (an iterable or an async iterable, consumed lazily, so a paged listing of
 * 100,000 devices is never held whole) with at most `concurrency` calls in flight. It never stops
 * at a failure: every item gets a result, returned in input order.
 *
 * @example
 * ```ts
 * const results = await mapConcurrent(ids, (id) => mgmt.devices.accept(id), { concurrency: 16 })
 * for (const r of results) if (!r.ok) console.error(r.item, r.error)
 * ```
 */
export async function mapConcurrent<I, R>(
  items: Iterable<I> | AsyncIterable<I>,
  fn: (item: I, index: number) => Promise<R>,
  options: MapConcurrentOptions<I, R> = {},
): Promise<ItemResult<I, R>[]> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  const results: ItemResult<I, R>[] = [];
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<I>)[Symbol.asyncIterator]()
      : (items as Iterable<I>)[Symbol.iterator]();
  let index = 0;
  // Async iterators must not be called concurrently: pull one item at a time.
  let pulling: Promise<unknown> = Promise.resolve();
  const pull = (): Promise<IteratorResult<I>> => {
    const next = pulling.then(() => iterator.next());
    pulling = next.catch(() => undefined);
    return next as Promise<IteratorResult<I>>;
  };
  const record = (result: ItemResult<I, R>): void => {
    results[result.index] = result;
    options.onResult?.(result);
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      const next = await pull();
      if (next.done) return;
      const i = index++;
      const item = next.value;
      if (options.signal?.aborted) {
        record({ ok: false, index: i, item, error: abortReason(options.signal) });
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
  return results;
}
