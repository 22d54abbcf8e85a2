import { randomUUID } from 'node:crypto';
import {
  findLink,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  InvalidResponseError,
  type Page,
  PagePromise,
  type PageResult,
  type PaginationTransport,
  paginateByLink,
  type QueryValue,
  type RequestOptions,
  UnauthorizedError,
} from '@otakit/core';
import type { Session } from './session.js';

/** Options of a list call: the page size and where to start, plus the usual request options. */
export interface ListOptions extends RequestOptions {
  /** Page size (`per_page`, at most 500 on Mender). Default 100. */
  perPage?: number;
  /** First page to fetch (1-based). Default 1. */
  page?: number;
}

/** The default page size of list calls: large enough to keep request counts low on big fleets. */
export const DEFAULT_PER_PAGE = 100;

/**
 * Sends management calls through an {@link HttpClient}, logging in again once per call when a
 * token obtained from credentials is refused with 401.
 * @internal
 */
export class Transport {
  readonly http: HttpClient;
  readonly #session: Session;

  constructor(http: HttpClient, session: Session) {
    this.http = http;
    this.#session = session;
  }

  /** Sends one call (see {@link HttpClient.request}), with one re-login on 401 when possible. */
  async request<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    const used = await this.#session.token(req);
    try {
      return await this.http.request<T>(req);
    } catch (err) {
      if (!(err instanceof UnauthorizedError) || !this.#canRetryAfterLogin(req)) throw err;
      await this.#session.relogin(used, req);
      return await this.http.request<T>(req);
    }
  }

  #canRetryAfterLogin(req: HttpRequest): boolean {
    if (!this.#session.canRelogin || req.auth === false) return false;
    const body = req.body;
    // A one-shot stream has been consumed by the refused attempt and cannot be sent again.
    return (
      body === undefined ||
      typeof body === 'function' ||
      typeof body === 'string' ||
      body instanceof Uint8Array ||
      body instanceof FormData
    );
  }

  /**
   * Lists a Mender collection with `GET`, following `Link: <...>; rel="next"` from page to page (or,
   * without a Link header, continuing while pages are full and `X-Total-Count` says more remain).
   * Holds one page at a time. The paging rules are core's {@link paginateByLink}; every page goes
   * through {@link Transport.request}, so a refused token is renewed even halfway through a list.
   */
  list<T>(
    path: string,
    query: Record<string, QueryValue> | undefined,
    opts: ListOptions = {},
    extract?: (body: unknown) => T[],
  ): PagePromise<T> {
    const { perPage = DEFAULT_PER_PAGE, ...rest } = opts;
    const pages: PaginationTransport = {
      request: (req) => this.request(req),
      resolveUrl: (p, q) => this.http.resolveUrl(p, q),
    };
    return paginateByLink<T>(pages, path, {
      ...rest,
      perPage,
      ...(query === undefined ? {} : { query }),
      ...(extract === undefined ? {} : { extract }),
    });
  }

  /**
   * Lists a collection whose page is chosen in a JSON body (`POST` searches): asks for page after
   * page while pages are full and `X-Total-Count` says more remain.
   */
  listByBody<T>(path: string, body: Record<string, unknown>, opts: ListOptions = {}): PagePromise<T> {
    const { perPage = DEFAULT_PER_PAGE, page = 1, ...requestOptions } = opts;
    const fetchPage = async (n: number): Promise<PageResult<T>> => {
      const res = await this.request<unknown>({
        ...requestOptions,
        method: 'POST',
        path,
        json: { ...body, page: n, per_page: perPage },
        // A search changes nothing: safe to retry.
        idempotencyKey: requestOptions.idempotencyKey ?? randomUUID(),
      });
      const items = toItems<T>(res);
      const totalCount = totalCountOf(res);
      const more =
        (findLink(res.headers.link, 'next') !== undefined || res.headers.link === undefined) &&
        items.length >= perPage &&
        (totalCount === undefined || n * perPage < totalCount);
      const result: Page<T> = { items, totalCount, page: n, perPage, hasNext: more };
      return { page: result, next: more ? () => fetchPage(n + 1) : undefined };
    };
    return new PagePromise<T>(() => fetchPage(page), opts.signal);
  }
}

function toItems<T>(res: HttpResponse<unknown>): T[] {
  const items = res.data;
  if (items === undefined) return [];
  if (!Array.isArray(items)) {
    throw new InvalidResponseError({
      method: 'POST',
      url: res.url,
      status: res.status,
      requestId: res.requestId,
      reason: 'a body that is not a list',
    });
  }
  return items as T[];
}

function totalCountOf(res: HttpResponse<unknown>): number | undefined {
  const raw = res.headers['x-total-count'];
  const total = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isSafeInteger(total) && total >= 0 ? total : undefined;
}

/** The last path segment of a `Location` header (Mender answers 201 with `Location: devices/<id>`). */
export function idFromLocation(res: HttpResponse<unknown>): string | undefined {
  const raw = res.headers.location;
  const location = Array.isArray(raw) ? raw[0] : raw;
  if (location === undefined) return undefined;
  const path = location.split(/[?#]/)[0] ?? '';
  const segment = path
    .split('/')
    .filter((s) => s !== '')
    .pop();
  return segment === undefined ? undefined : decodeURIComponent(segment);
}

/** Encodes one path segment. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
