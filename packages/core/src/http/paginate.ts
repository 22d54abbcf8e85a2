import { randomUUID } from 'node:crypto';
import { InvalidResponseError } from '../errors.js';
import { throwIfAborted } from './abort.js';
import { findLink } from './link.js';
import type {
  HttpRequest,
  HttpResponse,
  Page,
  PaginateOptions,
  QueryValue,
  RequestOptions,
} from './types.js';

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

/**
 * What {@link paginateByLink} sends through: an `HttpClient`, or a wrapper around one (a client that
 * logs in again on 401, say) with the same two methods.
 */
export interface PaginationTransport {
  /** Sends one call. */
  request<R = unknown>(req: HttpRequest): Promise<HttpResponse<R>>;
  /** The absolute URL of a path and query (`HttpClient.resolveUrl`). */
  resolveUrl(path: string, query?: Record<string, QueryValue>): string;
}

interface PageTarget {
  url: string;
  page: number;
  perPage: number;
}

/**
 * Lists a Mender collection page by page with `GET` (what `HttpClient.paginate` does), through any
 * {@link PaginationTransport}. Sends `page`/`per_page`; follows `Link: <...>; rel="next"` (relative
 * targets, several header lines or one comma-joined line; same origin only, since the next request
 * carries the token); reads `X-Total-Count`; without a Link header continues while a page is full and
 * the total (when known) says more remain. An empty body is an empty page; a body that is not a list
 * (after `extract`) is an `InvalidResponseError`.
 *
 * @example
 * ```ts
 * // A transport that re-authenticates, reusing the pagination rules.
 * const devices = paginateByLink<Device>(
 *   { request: (req) => withRelogin(() => http.request(req)), resolveUrl: (p, q) => http.resolveUrl(p, q) },
 *   '/api/management/v1/inventory/devices',
 *   { perPage: 100 },
 * )
 * ```
 */
export function paginateByLink<T>(
  transport: PaginationTransport,
  path: string,
  opts: PaginateOptions<T> = {},
): PagePromise<T> {
  const { query, perPage = 20, page = 1, extract, ...requestOptions } = opts;
  const fetchPage = async (target: PageTarget): Promise<PageResult<T>> => {
    const response = await transport.request<unknown>({
      ...requestOptions,
      method: 'GET',
      path: target.url,
      responseType: 'json',
    });
    const context = {
      method: 'GET',
      url: response.url,
      status: response.status,
      requestId: response.requestId,
    };
    const items = itemsOf<T>(response, 'GET', extract);
    const totalCount = totalCountOf(response);
    const linkHeader = response.headers.link;
    const nextHref = findLink(linkHeader, 'next');
    let next: PageTarget | undefined;
    if (nextHref !== undefined) {
      const nextUrl = new URL(nextHref, target.url);
      if (nextUrl.origin !== new URL(target.url).origin) {
        throw new InvalidResponseError({ ...context, reason: 'a Link rel="next" to another origin' });
      }
      // An empty page or a link to itself ends the list rather than looping.
      if (nextUrl.href !== target.url && items.length > 0) {
        next = {
          url: nextUrl.href,
          page: positiveInt(nextUrl.searchParams.get('page')) ?? target.page + 1,
          perPage: positiveInt(nextUrl.searchParams.get('per_page')) ?? target.perPage,
        };
      }
    } else if (
      linkHeader === undefined &&
      items.length > 0 &&
      items.length >= target.perPage &&
      (totalCount === undefined || target.page * target.perPage < totalCount)
    ) {
      const nextPage = target.page + 1;
      next = {
        url: transport.resolveUrl(path, { ...query, page: nextPage, per_page: target.perPage }),
        page: nextPage,
        perPage: target.perPage,
      };
    }
    return {
      page: {
        items,
        totalCount,
        page: target.page,
        perPage: target.perPage,
        hasNext: next !== undefined,
      },
      next: next === undefined ? undefined : () => fetchPage(next),
    };
  };
  return new PagePromise<T>(
    () =>
      fetchPage({ url: transport.resolveUrl(path, { ...query, page, per_page: perPage }), page, perPage }),
    opts.signal,
  );
}

/** Options of {@link paginateByBody}. */
export interface PaginateByBodyOptions<T> extends RequestOptions {
  /** The JSON body of every page's request; `page` and `per_page` are added to it. */
  body?: Record<string, unknown>;
  /** Page size (`per_page`). Default 20, like Mender. */
  perPage?: number;
  /** First page. Default 1. */
  page?: number;
  /** Extracts the items from a response body. Default: the body is the array. */
  extract?: (body: unknown) => T[];
}

/**
 * Lists a collection whose page is chosen in a JSON body (Mender's `POST .../filters/search`)
 * through any {@link PaginationTransport}: sends `{...body, page, per_page}` and asks for the next
 * page while a page is full, `X-Total-Count` (when sent) says more remain, and a `Link` header (when
 * sent) has a `rel="next"`. The search changes nothing, so every page is retryable: it is sent with
 * an `Idempotency-Key` (the caller's, or a fresh one per page). An empty body is an empty page; a
 * body that is not a list (after `extract`) is an `InvalidResponseError`.
 *
 * @example
 * ```ts
 * const devices = paginateByBody<Device>(http, '/api/management/v2/inventory/filters/search', {
 *   body: { filters: [{ scope: 'inventory', attribute: 'device_type', type: '$eq', value: 'pi4' }] },
 *   perPage: 100,
 * })
 * for await (const device of devices) console.log(device.id)
 * ```
 */
export function paginateByBody<T>(
  transport: Pick<PaginationTransport, 'request'>,
  path: string,
  opts: PaginateByBodyOptions<T> = {},
): PagePromise<T> {
  const { body = {}, perPage = 20, page = 1, extract, ...requestOptions } = opts;
  const fetchPage = async (n: number): Promise<PageResult<T>> => {
    const response = await transport.request<unknown>({
      ...requestOptions,
      method: 'POST',
      path,
      json: { ...body, page: n, per_page: perPage },
      idempotencyKey: requestOptions.idempotencyKey ?? randomUUID(),
      responseType: 'json',
    });
    const items = itemsOf<T>(response, 'POST', extract);
    const totalCount = totalCountOf(response);
    const linkHeader = response.headers.link;
    const more =
      (linkHeader === undefined || findLink(linkHeader, 'next') !== undefined) &&
      items.length > 0 &&
      items.length >= perPage &&
      (totalCount === undefined || n * perPage < totalCount);
    return {
      page: { items, totalCount, page: n, perPage, hasNext: more },
      next: more ? () => fetchPage(n + 1) : undefined,
    };
  };
  return new PagePromise<T>(() => fetchPage(page), opts.signal);
}

/** The items of a page's response: `[]` for an empty body, else a list or an `InvalidResponseError`. */
function itemsOf<T>(
  response: HttpResponse<unknown>,
  method: string,
  extract: ((body: unknown) => T[]) | undefined,
): T[] {
  const data = response.data;
  const items = data === undefined ? [] : extract === undefined ? data : extract(data);
  if (!Array.isArray(items)) {
    throw new InvalidResponseError({
      method,
      url: response.url,
      status: response.status,
      requestId: response.requestId,
      reason: 'a body that is not a list',
    });
  }
  return items as T[];
}

/** `X-Total-Count` as a non-negative integer, when the server sent a usable one. */
function totalCountOf(response: HttpResponse<unknown>): number | undefined {
  const raw = response.headers['x-total-count'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const total = Number(value);
  return value !== undefined && value !== '' && Number.isSafeInteger(total) && total >= 0 ? total : undefined;
}

function positiveInt(value: string | null): number | undefined {
  const n = Number(value);
  return value !== null && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
