import { throwIfAborted } from './abort.js';
import type { Page } from './types.js';

/** One fetched page and how to fetch the one after it (`undefined` on the last page). */
export interface PageResult<T> {
  page: Page<T>;
  next: (() => Promise<PageResult<T>>) | undefined;
}

/**
 * The result of a list call. `await` it for the first page; `for await` it for every item across
 * all pages; `.pages()` iterates the pages. Nothing is fetched until you do one of these, and only
 * one page is held at a time while iterating. The signal is checked between pages: an aborted
 * iteration rejects with `signal.reason` (or an `AbortError`).
 *
 * @example
 * ```ts
 * const first = await mgmt.devices.list({ perPage: 50 })  // Page<Device>
 * console.log(first.totalCount, first.items.length)
 * for await (const device of mgmt.devices.list()) console.log(device.id)
 * for await (const page of mgmt.devices.list().pages()) console.log(page.page, page.items.length)
 * ```
 */
export class PagePromise<T> implements PromiseLike<Page<T>>, AsyncIterable<T> {
  readonly #fetchFirst: () => Promise<PageResult<T>>;
  readonly #signal: AbortSignal | undefined;
  #first: Promise<PageResult<T>> | undefined;

  /**
   * @param fetchFirst fetches the first page; each {@link PageResult} says how to fetch the next.
   * @param signal checked before each page after the first.
   */
  constructor(fetchFirst: () => Promise<PageResult<T>>, signal?: AbortSignal) {
    this.#fetchFirst = fetchFirst;
    this.#signal = signal;
  }

  #start(): Promise<PageResult<T>> {
    this.#first ??= this.#fetchFirst();
    return this.#first;
  }

  /** Resolves with the first page. */
  // biome-ignore lint/suspicious/noThenProperty: a PagePromise is awaitable by design.
  then<R1 = Page<T>, R2 = never>(
    onfulfilled?: ((page: Page<T>) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#start()
      .then((result) => result.page)
      .then(onfulfilled, onrejected);
  }

  /** Like `Promise.prototype.catch`, for the first page. */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.then(undefined, onrejected);
  }

  /** Iterates the pages, fetching each only when the previous one has been consumed. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let result = await this.#start();
    yield result.page;
    while (result.next !== undefined) {
      throwIfAborted(this.#signal);
      result = await result.next();
      yield result.page;
    }
  }

  /** Iterates every item of every page. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.items;
  }

  /**
   * Collects the items of all pages into an array, stopping after `limit` items. Holds everything
   * in memory: prefer `for await` for large fleets.
   */
  async toArray(limit = Number.POSITIVE_INFINITY): Promise<T[]> {
    const items: T[] = [];
    if (limit <= 0) return items;
    for await (const item of this) {
      items.push(item);
      if (items.length >= limit) break;
    }
    return items;
  }
}
