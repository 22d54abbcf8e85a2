import {
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  type PagePromise,
  paginateByBody,
  paginateByLink,
  type QueryValue,
  type RequestOptions,
} from '@otakit/core';

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
 * Sends management calls through an {@link HttpClient}. Re-authentication on 401 is the client's
 * (its `auth` is a core `TokenSource`), so every call and every page of a list gets it.
 * @internal
 */
export class Transport {
  readonly http: HttpClient;

  constructor(http: HttpClient) {
    this.http = http;
  }

  /** Sends one call (see {@link HttpClient.request}). */
  request<T>(req: HttpRequest): Promise<HttpResponse<T>> {
    return this.http.request<T>(req);
  }

  /**
   * Lists a Mender collection with `GET`, following `Link: <...>; rel="next"` from page to page (or,
   * without a Link header, continuing while pages are full and `X-Total-Count` says more remain).
   * Holds one page at a time. The paging rules are core's {@link paginateByLink}.
   */
  list<T>(
    path: string,
    query: Record<string, QueryValue> | undefined,
    opts: ListOptions = {},
    extract?: (body: unknown) => T[],
  ): PagePromise<T> {
    const { perPage = DEFAULT_PER_PAGE, ...rest } = opts;
    return paginateByLink<T>(this.http, path, {
      ...rest,
      perPage,
      ...(query === undefined ? {} : { query }),
      ...(extract === undefined ? {} : { extract }),
    });
  }

  /**
   * Lists a collection whose page is chosen in a JSON body (`POST` searches), with core's
   * {@link paginateByBody}.
   */
  listByBody<T>(path: string, body: Record<string, unknown>, opts: ListOptions = {}): PagePromise<T> {
    const { perPage = DEFAULT_PER_PAGE, ...rest } = opts;
    return paginateByBody<T>(this.http, path, { ...rest, body, perPage });
  }
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
