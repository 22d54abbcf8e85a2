import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type { Dispatcher } from 'undici';
import { type ApiError, apiErrorFromResponse, isMenderErrorBody } from '../errors.js';
import { AttemptSignal } from './abort.js';
import { prepareBody, readBody, readErrorBody } from './body.js';
import { buildDispatcher, type DispatcherPlan, planDispatcher } from './dispatcher.js';
import { type PagePromise, paginateByLink } from './paginate.js';
import { attemptToken, type SentToken, withReauthentication } from './reauth.js';
import {
  type AttemptPlace,
  attemptFailure,
  RETRYABLE_STATUSES,
  RetryableFailure,
  withRetries,
} from './retry.js';
import { parseRetryAfter } from './retry-after.js';
import { type Target, TargetResolver } from './target.js';
import { isTokenSource } from './token.js';
import type {
  HttpClientOptions,
  HttpEvents,
  HttpRequest,
  HttpResponse,
  Logger,
  PaginateOptions,
  QueryValue,
} from './types.js';
import { loadedUndici, loadUndici, type UndiciModule } from './undici.js';

export { IDEMPOTENT_METHODS, RETRYABLE_STATUSES } from './retry.js';

/** The per-attempt timeout when neither the call nor the client sets one, ms. */
const DEFAULT_TIMEOUT_MS = 30_000;

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

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
  /** Joins paths to the base URL (the fast path: no URL parsing for plain paths). */
  readonly #targets: TargetResolver;
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

  constructor(options: HttpClientOptions) {
    this.#options = options;
    this.#targets = new TargetResolver(options.baseUrl);
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
    return this.#targets.baseUrl.href;
  }

  /**
   * Sends one call, retrying as the policy allows, and reads the response body as
   * `responseType` says (default JSON). Rejects with an {@link ApiError} subclass for statuses >= 400,
   * `ConnectionError`, `TimeoutError`, `InvalidResponseError`, or the caller's abort reason.
   */
  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const target = this.#targets.resolve(req.path, req.query);
    const requestId = req.requestId ?? headerValue(req.headers, 'x-men-requestid') ?? randomUUID();
    return await withReauthentication(
      isTokenSource(req.auth) ? req.auth : this.#options.auth,
      req,
      (sent) => this.#send<T>(req, target, requestId, sent),
      () =>
        this.#logger.info('otakit http: token refused, re-sending with a fresh one', {
          method: req.method,
          url: target.safeUrl,
          requestId,
        }),
    );
  }

  /** One send of a call: its attempts and the backoff between them (see {@link withRetries}). */
  #send<T>(req: HttpRequest, target: Target, requestId: string, sent: SentToken): Promise<HttpResponse<T>> {
    return withRetries(
      req,
      this.#options,
      (attempt) => this.#attempt<T>(req, target, requestId, attempt, sent),
      (notice) => {
        const event = { method: req.method, url: target.safeUrl, ...notice };
        this.#logger.warn('otakit http: retrying', { ...event, requestId });
        this.#emit('retry', event);
      },
    );
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
    return this.#targets.resolve(path, query).url;
  }

  /**
   * One attempt: the headers (with the bearer token on the base origin), the exchange, the error
   * a status >= 400 becomes (a {@link RetryableFailure} for retryable statuses), and the body read
   * as `responseType` says.
   */
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
    if (
      req.auth !== false &&
      target.sameOrigin &&
      (isTokenSource(req.auth) || options.auth !== undefined) &&
      !('authorization' in headers)
    ) {
      const given = attemptToken(options, req);
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
    const timeoutMs = req.timeout ?? this.#options.timeout ?? DEFAULT_TIMEOUT_MS;
    const scope = new AttemptSignal(req.signal, timeoutMs);
    const started = performance.now();
    // Event payloads are built only when someone looks: a listener, or a logger that was given.
    if (this.#logger !== silentLogger) {
      this.#logger.debug('otakit http: request', { method: req.method, url: safeUrl, attempt, requestId });
    }
    if (this.events.listenerCount('request') > 0) {
      this.#emit('request', { method: req.method, url: safeUrl, attempt, requestId });
    }

    const place: AttemptPlace = { method: req.method, url, requestId, timeoutMs };

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
              origin: this.#targets.baseUrl.origin,
              path: target.requestPath,
              method: req.method,
              headers,
              body: payload,
              signal: scope.signal,
            });
    } catch (err) {
      throw attemptFailure(err, scope, req.signal, place);
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
        throw attemptFailure(err, scope, req.signal, place);
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
        throw attemptFailure(err, scope, req.signal, place);
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
