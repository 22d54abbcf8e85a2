import { redactQuery, redactUrl } from './redact.js';
import type { QueryValue } from './types.js';

/** Characters a relative path (before any `?`) may hold to be joined to the base URL as a string. */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&()*+,;=:@/%]*$/;
/** Characters its query may hold (after the `?`) to be kept as given. */
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&()*+,;=:@/%][A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;
/** A `.` or `..` path segment, or a percent-encoded dot (which the URL parser may resolve). */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)|%2e/i;
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/** A request's URL, whether it is on the base URL's origin, and its redacted form. @internal */
export interface Target {
  url: string;
  sameOrigin: boolean;
  safeUrl: string;
  /**
   * For a URL on the base origin joined as a string: its path and query, to hand the dispatcher
   * with the origin as `undici.request(url)` would after parsing `url` (which is then skipped).
   */
  requestPath?: string;
}

/**
 * Resolves request paths against a base URL: the fast path of a request. A plain path (or an
 * absolute URL on the base origin written as the URL parser would write it) is joined as a string,
 * without parsing a URL; anything else goes through the URL parser. Both give the same URL.
 * @internal
 */
export class TargetResolver {
  readonly baseUrl: URL;
  /**
   * The base URL up to its path (`scheme://[userinfo@]host[:port]`) and its path without trailing
   * slashes: a plain relative path is appended to them as a string, without parsing a URL. Undefined
   * when the base URL is not plain http(s) (a fragment, say): every path then goes through the parser.
   */
  readonly #baseHead: string | undefined;
  readonly #basePath: string = '';
  /** `scheme://host[:port]` of the base URL (its origin), when it has no userinfo. */
  readonly #originPrefix: string | undefined;
  /** Whether the base URL has no userinfo, so that a URL built on it needs only its query redacted. */
  readonly #baseIsSafe: boolean;

  constructor(baseUrl: string | URL) {
    this.baseUrl = new URL(baseUrl);
    const base = this.baseUrl;
    this.#baseIsSafe = base.username === '' && base.password === '';
    if ((base.protocol === 'http:' || base.protocol === 'https:') && !base.href.includes('#')) {
      const tail = base.pathname + base.search;
      if (base.href.endsWith(tail)) {
        this.#baseHead = base.href.slice(0, base.href.length - tail.length);
        this.#basePath = base.pathname.replace(/\/+$/, '');
      }
      if (this.#baseIsSafe) this.#originPrefix = base.origin;
    }
  }

  /**
   * The absolute URL of `path` (relative to the base URL, keeping a base path prefix; or absolute)
   * with `query` appended (arrays repeat the key; `undefined` and `null` are left out), whether it
   * is on the base URL's origin, and its redacted form.
   */
  resolve(path: string, query: Record<string, QueryValue> | undefined): Target {
    const plain = this.#plainTarget(path, query);
    if (plain !== undefined) return plain;
    const url = this.#parsedUrl(path, query);
    const sameOrigin = new URL(url).origin === this.baseUrl.origin;
    return { url, sameOrigin, safeUrl: redactUrl(url) };
  }

  /** The target of a plain path, or undefined when the URL parser is needed. */
  #plainTarget(path: string, query: Record<string, QueryValue> | undefined): Target | undefined {
    let head: string;
    let rest: string;
    if (ABSOLUTE.test(path)) {
      // An absolute URL on the base origin, as the parser writes it (lower-case, no default port).
      const origin = this.#originPrefix;
      if (origin === undefined || !path.startsWith(origin) || path.charCodeAt(origin.length) !== 47 /* / */) {
        return undefined;
      }
      head = origin;
      rest = path.slice(origin.length);
    } else {
      if (this.#baseHead === undefined) return undefined;
      head = this.#baseHead;
      rest = this.#basePath + (path.startsWith('/') ? path : `/${path}`);
    }
    const at = rest.indexOf('?');
    const pathname = at === -1 ? rest : rest.slice(0, at);
    let search = at === -1 ? '' : rest.slice(at + 1);
    if (!PLAIN_PATH.test(pathname) || DOT_SEGMENT.test(pathname)) return undefined;
    if (at !== -1 && !PLAIN_QUERY.test(search)) return undefined; // a bare '?' too: left to the parser
    if (query !== undefined) {
      let params: URLSearchParams | undefined;
      for (const key of Object.keys(query)) {
        const value = query[key];
        if (value === undefined || value === null) continue;
        // The query is re-serialised only once a parameter is appended (as URL.searchParams does).
        const values: ReadonlyArray<string | number | boolean> = Array.isArray(value) ? value : [value];
        for (const v of values) {
          params ??= new URLSearchParams(search);
          params.append(key, String(v));
        }
      }
      if (params !== undefined) search = params.toString();
    }
    const requestPath = search === '' ? pathname : `${pathname}?${search}`;
    const url = head + requestPath;
    const safeUrl = !this.#baseIsSafe
      ? redactUrl(url)
      : search === ''
        ? url
        : `${head}${pathname}?${redactQuery(search)}`;
    return { url, sameOrigin: true, safeUrl, requestPath };
  }

  /** The URL of `path` and `query` through the URL parser. */
  #parsedUrl(path: string, query: Record<string, QueryValue> | undefined): string {
    let url: URL;
    if (ABSOLUTE.test(path)) {
      url = new URL(path);
    } else {
      url = new URL(this.baseUrl.href);
      const [pathname = '', search] = splitOnce(path, '?');
      url.pathname =
        url.pathname.replace(/\/+$/, '') + (pathname.startsWith('/') ? pathname : `/${pathname}`);
      url.search = search ?? '';
    }
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined || value === null) continue;
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) url.searchParams.append(key, String(v));
    }
    return url.href;
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
