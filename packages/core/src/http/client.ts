import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type { Dispatcher } from 'undici';
import {
  type ApiError,
  apiErrorFromResponse,
  ConnectionError,
  isMenderErrorBody,
  OtakitError,
  TimeoutError,
  UnauthorizedError,
} from '../errors.js';
import { backoffDelay } from '../util/backoff.js';
import { sleep } from '../util/sleep.js';
import { AttemptSignal, abortReason, throwIfAborted } from './abort.js';
import { isOneShotBody, prepareBody, readBody, readErrorBody } from './body.js';
import { buildDispatcher, type DispatcherPlan, planDispatcher } from './dispatcher.js';
import { type PagePromise, paginateByLink } from './paginate.js';
import { redactQuery, redactUrl } from './redact.js';
import { parseRetryAfter } from './retry-after.js';
import { isTokenSource, type TokenSource } from './token.js';
import type {
  HttpClientOptions,
  HttpEvents,
  HttpMethod,
  HttpRequest,
  HttpResponse,
  Logger,
  PaginateOptions,
  QueryValue,
} from './types.js';
import { loadedUndici, loadUndici, type UndiciModule } from './undici.js';

/** Methods retried without an idempotency key. */
export const IDEMPOTENT_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);
/** Statuses worth another attempt (network errors are retried too). */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

const DEFAULTS = {
  timeout: 30_000,
  maxRetries: 2,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
} as const;

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Characters a relative path (before any `?`) may hold to be joined to the base URL as a string. */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&()*+,;=:@/%]*$/;
/** Characters its query may hold (after the `?`) to be kept as given. */
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&()*+,;=:@/%][A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;
/** A `.` or `..` path segment, or a percent-encoded dot (which the URL parser may resolve). */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)|%2e/i;
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/** A request's URL, whether it is on the base URL's origin, and its redacted form. */
interface Target {
  url: string;
  sameOrigin: boolean;
  safeUrl: string;
  /**
   * For a URL on the base origin joined as a string: its path and query, to hand the dispatcher
   * with the origin as `undici.request(url)` would after parsing `url` (which is then skipped).
   */
  requestPath?: string;
}

/** The token the last attempt of a call carried, when it came from the client's `auth`. */
interface SentToken {
  fromSource: boolean;
  token: string | undefined;
}

/** An attempt that failed in a way another attempt may fix. */
class RetryableFailure {
  constructor(
    readonly error: unknown,
    readonly reason: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {}
}

/**
 * The HTTP transport every otakit client sends through: `undici.request()` with retries
 * (exponential backoff, full jitter, `Retry-After`), per-attempt timeouts, `X-MEN-RequestID`,
 * typed errors, streaming bodies, Mender pagination, redacted logs and events.
 *
 * The `Authorization` header from `auth` is sent only to the origin of `baseUrl`, never to other
 * hosts (signed download URLs, a foreign `Link`). With a {@link TokenSource} as `auth`, a 401 makes
 * the client refresh the token once and re-send the call once.
 *
 * undici is loaded on the first request, not when otakit is imported, and the dispatcher the client
 * builds (when none is injected) is built then too.
 *
 * @example
 * ```ts
 * const http = new HttpClient({ baseUrl: 'https://hosted.mender.io', auth: () => token })
 * const { data } = await http.request<Device[]>({ method: 'GET', path: '/api/management/v1/inventory/devices' })
 * for await (const device of http.paginate<Device>('/api/management/v1/inventory/devices')) console.log(device.id)
 * await http.close()
 * ```
 */
export class HttpClient {
  /** Typed `request`, `response` and `retry` events. URLs are redacted; headers are never included. */
  readonly events: EventEmitter<HttpEvents> = new EventEmitter<HttpEvents>();
  readonly #baseUrl: URL;
  /** The injected dispatcher, if any: never built, never closed. */
  readonly #injected: Dispatcher | undefined;
  /** The dispatcher to build on the first request when none is injected. */
  readonly #plan: DispatcherPlan | undefined;
  /** The dispatcher being built or built (undefined until the first request, and after a failed build). */
  #built: Promise<Dispatcher> | undefined;
  /** The dispatcher once built. */
  #dispatcher: Dispatcher | undefined;
  #closed = false;
  readonly #options: HttpClientOptions;
  readonly #logger: Logger;
  readonly #headers: Record<string, string>;
  readonly #headerNames: readonly string[];
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

  constructor(options: HttpClientOptions) {
    this.#options = options;
    this.#baseUrl = new URL(options.baseUrl);
    const base = this.#baseUrl;
    this.#baseIsSafe = base.username === '' && base.password === '';
    if ((base.protocol === 'http:' || base.protocol === 'https:') && !base.href.includes('#')) {
      const tail = base.pathname + base.search;
      if (base.href.endsWith(tail)) {
        this.#baseHead = base.href.slice(0, base.href.length - tail.length);
        this.#basePath = base.pathname.replace(/\/+$/, '');
      }
      if (this.#baseIsSafe) this.#originPrefix = base.origin;
    }
    if (options.dispatcher !== undefined) {
      this.#injected = options.dispatcher;
      this.#dispatcher = options.dispatcher;
    } else {
      this.#plan = planDispatcher(options);
    }
    this.#logger = options.logger ?? silentLogger;
    this.#headers = {
      'user-agent': options.userAgent ?? `otakit (node ${process.version})`,
      ...lowerCaseKeys(options.headers),
    };
    this.#headerNames = Object.keys(this.#headers);
  }

  /** The base URL requests are resolved against. */
  get baseUrl(): string {
    return this.#baseUrl.href;
  }

  /**
   * Sends one call, retrying as the policy allows, and reads the response body as
   * `responseType` says (default JSON). Rejects with an {@link ApiError} subclass for statuses >= 400,
   * `ConnectionError`, `TimeoutError`, `InvalidResponseError`, or the caller's abort reason.
   */
  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const target = this.#resolve(req.path, req.query);
    const requestId = req.requestId ?? headerValue(req.headers, 'x-men-requestid') ?? randomUUID();
    const sent: SentToken = { fromSource: false, token: undefined };
    try {
      return await this.#send<T>(req, target, requestId, sent);
    } catch (err) {
      const source = isTokenSource(req.auth) ? req.auth : this.#options.auth;
      if (
        !(err instanceof UnauthorizedError) ||
        !sent.fromSource ||
        !isTokenSource(source) ||
        source.refresh === undefined ||
        isOneShotBody(req.body)
      ) {
        throw err;
      }
      // One re-authentication: a fresh token (shared with concurrent 401s), then one more send.
      const fresh = await source.refresh(sent.token, { signal: req.signal, timeout: req.timeout });
      // The same string may come back: a server re-issues identical bytes within a second (Mender).
      if (fresh === undefined || fresh === '') throw err;
      this.#logger.info('otakit http: token refused, re-sending with a fresh one', {
        method: req.method,
        url: target.safeUrl,
        requestId,
      });
      return await this.#send<T>(req, target, requestId, sent);
    }
  }

  /** {@link request} without the re-authentication: the attempts and their backoff. */
  async #send<T>(
    req: HttpRequest,
    target: Target,
    requestId: string,
    sent: SentToken,
  ): Promise<HttpResponse<T>> {
    const maxRetries = req.maxRetries ?? this.#options.maxRetries ?? DEFAULTS.maxRetries;
    const maxRetryAfterMs = this.#options.retry?.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs;
    const retryAllowed =
      !isOneShotBody(req.body) && (IDEMPOTENT_METHODS.has(req.method) || req.idempotencyKey !== undefined);

    for (let attempt = 1; ; attempt++) {
      throwIfAborted(req.signal);
      let failure: RetryableFailure;
      try {
        return await this.#attempt<T>(req, target, requestId, attempt, sent);
      } catch (err) {
        if (!(err instanceof RetryableFailure)) throw err;
        failure = err;
      }
      if (!retryAllowed || attempt > maxRetries) throw failure.error;
      if (failure.retryAfterMs !== undefined && failure.retryAfterMs > maxRetryAfterMs) throw failure.error;
      const delayMs =
        failure.retryAfterMs === undefined
          ? this.#backoff(attempt)
          : this.#afterRetryAfter(failure.retryAfterMs);
      const event = {
        method: req.method,
        url: target.safeUrl,
        attempt,
        delayMs,
        reason: failure.reason,
        ...(failure.status === undefined ? {} : { status: failure.status }),
      };
      this.#logger.warn('otakit http: retrying', { ...event, requestId });
      this.#emit('retry', event);
      await sleep(delayMs, req.signal);
    }
  }

  /**
   * Lists a Mender collection page by page. `await` the result for the first page; `for await` it
   * for every item across pages; `.pages()` for the pages. Follows `Link rel="next"`; without a Link
   * header, continues while pages are full (and `X-Total-Count` says more remain).
   *
   * @example
   * ```ts
   * const first = await http.paginate<Device>('/api/management/v1/inventory/devices', { perPage: 100 })
   * for await (const device of http.paginate<Device>('/api/management/v1/inventory/devices')) use(device)
   * ```
   */
  paginate<T>(path: string, opts: PaginateOptions<T> = {}): PagePromise<T> {
    return paginateByLink<T>(this, path, opts);
  }

  /**
   * Closes the dispatcher the client built (an injected `dispatcher` is left open for its owner).
   * Calls made after it fail at once.
   */
  async close(): Promise<void> {
    if (this.#injected !== undefined) return;
    this.#closed = true;
    // Nothing built (no call made): nothing to close, and no undici to load. A later call builds
    // the dispatcher closed.
    if (this.#built === undefined) return;
    let dispatcher: Dispatcher;
    try {
      dispatcher = await this.#built;
    } catch {
      return; // it could not be built: there is nothing to close
    }
    await dispatcher.close();
  }

  /**
   * The absolute URL of `path` (relative to the base URL, keeping a base path prefix; or absolute)
   * with `query` appended (arrays repeat the key; `undefined` and `null` are left out).
   */
  resolveUrl(path: string, query?: Record<string, QueryValue>): string {
    return this.#resolve(path, query).url;
  }

  /**
   * {@link resolveUrl}, plus whether the URL is on the base URL's origin and its redacted form. A
   * plain path (or an absolute URL on the base origin written as the URL parser would write it) is
   * joined as a string; anything else goes through the URL parser. Both give the same URL.
   */
  #resolve(path: string, query: Record<string, QueryValue> | undefined): Target {
    const plain = this.#plainTarget(path, query);
    if (plain !== undefined) return plain;
    const url = this.#parsedUrl(path, query);
    const sameOrigin = new URL(url).origin === this.#baseUrl.origin;
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

  /** {@link resolveUrl} through the URL parser. */
  #parsedUrl(path: string, query: Record<string, QueryValue> | undefined): string {
    let url: URL;
    if (ABSOLUTE.test(path)) {
      url = new URL(path);
    } else {
      url = new URL(this.#baseUrl.href);
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

  async #attempt<T>(
    req: HttpRequest,
    target: Target,
    requestId: string,
    attempt: number,
    sent: SentToken,
  ): Promise<HttpResponse<T>> {
    const { url, safeUrl } = target;
    const headers = this.#requestHeaders(req, requestId);
    const options = this.#options;
    const source = isTokenSource(req.auth) ? req.auth : options.auth;
    if (req.auth !== false && target.sameOrigin && source !== undefined && !('authorization' in headers)) {
      // A token function is called on the options object, as it always was (it may use `this`).
      const given = isTokenSource(source)
        ? source.token({ signal: req.signal, timeout: req.timeout })
        : source.call(options);
      // Awaited only when it is a promise: a synchronous token costs no extra turn.
      const token = isPromiseLike(given) ? await given : given;
      sent.fromSource = true;
      sent.token = token;
      if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
    }
    const undici = loadedUndici() ?? (await loadUndici());
    const dispatcher = this.#dispatcher ?? (await this.#buildDispatcher());
    const { body, contentType } = prepareBody(req, undici);
    if (contentType !== undefined) headers['content-type'] = contentType;
    const timeoutMs = req.timeout ?? this.#options.timeout ?? DEFAULTS.timeout;
    const scope = new AttemptSignal(req.signal, timeoutMs);
    const started = performance.now();
    // Event payloads are built only when someone looks: a listener, or a logger that was given.
    if (this.#logger !== silentLogger) {
      this.#logger.debug('otakit http: request', { method: req.method, url: safeUrl, attempt, requestId });
    }
    if (this.events.listenerCount('request') > 0) {
      this.#emit('request', { method: req.method, url: safeUrl, attempt, requestId });
    }

    const fail = (err: unknown): unknown => {
      scope.dispose();
      if (scope.callerAborted) return abortReason(req.signal as AbortSignal);
      if (err instanceof OtakitError) return err;
      const where = { method: req.method, url, requestId, cause: err };
      if (scope.timedOut) return new RetryableFailure(new TimeoutError({ ...where, timeoutMs }), 'timeout');
      if (isProgrammerError(err)) return err;
      const error = new ConnectionError(where);
      return new RetryableFailure(error, `connection error (${errorCode(err)})`);
    };

    let res: Dispatcher.ResponseData<unknown>;
    try {
      // Node's global FormData and undici's are the same at runtime but typed apart.
      const payload = (body ?? null) as Dispatcher.RequestOptions['body'];
      res =
        target.requestPath === undefined
          ? await undici.request(url, {
              method: req.method,
              headers,
              body: payload,
              signal: scope.signal,
              dispatcher,
            })
          : // What undici.request(url) does once it has parsed url, which here is known already.
            await undici.Dispatcher.prototype.request.call(dispatcher, {
              origin: this.#baseUrl.origin,
              path: target.requestPath,
              method: req.method,
              headers,
              body: payload,
              signal: scope.signal,
            });
    } catch (err) {
      throw fail(err);
    }

    const status = res.statusCode;
    const responseId = firstHeader(res.headers['x-men-requestid']) ?? requestId;
    if (this.#logger !== silentLogger || this.events.listenerCount('response') > 0) {
      const responseEvent = {
        method: req.method,
        url: safeUrl,
        attempt,
        requestId: responseId,
        status,
        durationMs: Math.round(performance.now() - started),
      };
      this.#logger.debug('otakit http: response', responseEvent);
      this.#emit('response', responseEvent);
    }

    if (status >= 400) {
      let errorBody: unknown;
      try {
        errorBody = await readErrorBody(res.body);
      } catch (err) {
        throw fail(err);
      }
      scope.dispose();
      const error: ApiError = apiErrorFromResponse({
        status,
        method: req.method,
        url,
        // The server's id (header, else the body's request_id), else the one we sent.
        requestId:
          firstHeader(res.headers['x-men-requestid']) ??
          (isMenderErrorBody(errorBody) ? errorBody.request_id : undefined) ??
          requestId,
        body: errorBody,
        headers: res.headers,
      });
      if (RETRYABLE_STATUSES.has(status)) {
        throw new RetryableFailure(
          error,
          `HTTP ${status}`,
          status,
          parseRetryAfter(res.headers['retry-after']),
        );
      }
      throw error;
    }

    const responseType = req.responseType ?? 'json';
    let data: unknown;
    if (responseType === 'stream') {
      // The caller reads the body at their pace: the per-attempt timeout no longer applies, but their
      // signal still destroys the stream.
      scope.stopTimer();
      res.body.once('close', () => scope.dispose());
      data = res.body;
    } else {
      try {
        data = await readBody(res.body, responseType, {
          method: req.method,
          url,
          status,
          requestId: responseId,
        });
      } catch (err) {
        throw fail(err);
      }
      scope.dispose();
    }
    return { status, headers: res.headers, data: data as T, requestId: responseId, url: safeUrl };
  }

  /**
   * The dispatcher this client built, building it (and loading undici) on first use. One built after
   * `close()` is closed before it is returned, so that calls fail as they would on a closed one.
   */
  #buildDispatcher(): Promise<Dispatcher> {
    if (this.#built === undefined) {
      const plan = this.#plan as DispatcherPlan;
      const closeFirst = this.#closed;
      const built = loadUndici().then(async (undici: UndiciModule) => {
        const dispatcher = buildDispatcher(undici, plan);
        if (closeFirst) await dispatcher.close();
        this.#dispatcher = dispatcher;
        return dispatcher;
      });
      built.catch(() => {
        if (this.#built === built) this.#built = undefined;
      });
      this.#built = built;
    }
    return this.#built;
  }

  /** The headers of one attempt but `authorization` and `content-type`, in the order they are sent. */
  #requestHeaders(req: HttpRequest, requestId: string): Record<string, string> {
    // Copied key by key: on Node 20, adding keys to an object made by spreading costs ~1 µs each.
    const headers: Record<string, string> = {};
    const base = this.#headers;
    for (const name of this.#headerNames) headers[name] = base[name] as string;
    const extra = req.headers;
    if (extra !== undefined)
      for (const key of Object.keys(extra)) headers[key.toLowerCase()] = extra[key] as string;
    headers['x-men-requestid'] = requestId;
    if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
    if (req.contentLength !== undefined) headers['content-length'] = String(req.contentLength);
    return headers;
  }

  #backoff(attempt: number): number {
    return backoffDelay(attempt, {
      baseDelayMs: this.#options.retry?.baseDelayMs ?? DEFAULTS.baseDelayMs,
      maxDelayMs: this.#options.retry?.maxDelayMs ?? DEFAULTS.maxDelayMs,
    });
  }

  /**
   * The wait for a server's `Retry-After`: never shorter, plus up to `baseDelayMs` of jitter so a
   * fleet told the same instant does not come back in the same millisecond.
   */
  #afterRetryAfter(retryAfterMs: number): number {
    const spread = this.#options.retry?.baseDelayMs ?? DEFAULTS.baseDelayMs;
    return retryAfterMs + Math.round(Math.random() * spread);
  }

  #emit<E extends keyof HttpEvents>(event: E, payload: Parameters<HttpEvents[E]>[0]): void {
    try {
      (this.events.emit as (e: E, p: unknown) => boolean)(event, payload);
    } catch (err) {
      this.#logger.error(`otakit http: a '${event}' listener threw`, { error: String(err) });
    }
  }
}

function lowerCaseKeys(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) out[key.toLowerCase()] = value;
  return out;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {})) if (key.toLowerCase() === name) return value;
  return undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'unknown';
}

/** Undici errors that another attempt cannot fix: bad arguments, or a closed client. */
const PERMANENT_UNDICI_CODES = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CLOSED',
]);

function isProgrammerError(err: unknown): boolean {
  return PERMANENT_UNDICI_CODES.has(errorCode(err)) || err instanceof TypeError;
}
