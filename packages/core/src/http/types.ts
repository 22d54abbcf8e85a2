import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RefreshingToken, TokenSource } from './token.js';

/** A logger otakit writes to. Silent unless you inject one (e.g. `console` or a pino instance). */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** Options every client method accepts as its last argument. */
export interface RequestOptions {
  /** Aborts the call (all attempts and backoff waits). Rejects with `signal.reason` when given. */
  signal?: AbortSignal;
  /** Per-attempt timeout in milliseconds. Combines with `signal`. */
  timeout?: number;
  /** Retries after the first attempt; overrides the client's default. */
  maxRetries?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Makes a non-idempotent call (POST, PATCH) retryable; sent as `Idempotency-Key`. */
  idempotencyKey?: string;
  /** The `X-MEN-RequestID` to send; a fresh UUID when absent. */
  requestId?: string;
}

/** Retry policy of an {@link HttpClient}. */
export interface RetryPolicy {
  /** First backoff ceiling in ms (full jitter: the wait is uniform in [0, ceiling]). Default 500. */
  baseDelayMs?: number;
  /** Largest backoff ceiling in ms. Default 30 000. */
  maxDelayMs?: number;
  /**
   * Largest `Retry-After` honoured in ms; a longer one throws `RateLimitError` at once. Default 60 000.
   * A honoured `Retry-After` is waited in full, plus up to `baseDelayMs` of jitter.
   */
  maxRetryAfterMs?: number;
}

/** TLS material for building a dispatcher (mutual TLS, private CAs). */
export interface TlsOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Default true. */
  rejectUnauthorized?: boolean;
}

/** Options of an {@link HttpClient}. */
export interface HttpClientOptions {
  /** Base URL; request paths are resolved against it. */
  baseUrl: string | URL;
  /** An undici dispatcher to send through (e.g. a `MockAgent` in tests). The client never closes it. */
  dispatcher?: Dispatcher;
  /** Build a proxying dispatcher: a proxy URL, or `'env'` for HTTP(S)_PROXY / NO_PROXY. */
  proxy?: string | 'env';
  /** TLS options for the dispatcher the client builds. */
  tls?: TlsOptions;
  /** Maximum connections per origin of a dispatcher the client builds. Default 16. */
  connections?: number;
  /**
   * What the dispatcher the client builds sends over: `'undici'` (default) undici's `Agent`;
   * `'node'` Node's own HTTP/1.1 client (`node:http`/`node:https` with keep-alive agents), which
   * parses responses with the llhttp built into Node instead of undici's WebAssembly build: less
   * resident memory for a long-running process that makes few requests (an idle `otakit device
   * run` holds ~5 MiB less with it and the bundle changes that go with it).
   * Responses are read through undici's API either way (same bodies, same errors). With a `proxy`,
   * undici's proxy agents are used whatever this says.
   */
  transport?: 'undici' | 'node';
  /** Default per-attempt timeout in ms. Default 30 000. */
  timeout?: number;
  /** Default retries after the first attempt. Default 2. */
  maxRetries?: number;
  retry?: RetryPolicy;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * The bearer token for `Authorization`, asked before every attempt: a function, or a
   * {@link TokenSource} whose `refresh` the client calls once when the server answers 401, re-sending
   * the call once with the fresh token (e.g. a {@link RefreshingToken} that logs in).
   */
  auth?: (() => string | undefined | Promise<string | undefined>) | TokenSource;
  logger?: Logger;
  userAgent?: string;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A body that can be re-sent on retry: a value, or a factory that makes a fresh stream per attempt. */
export type RequestBody =
  | string
  | Uint8Array
  | FormData
  | Readable
  | AsyncIterable<Uint8Array>
  | (() => Readable | AsyncIterable<Uint8Array>);

export type QueryValue =
  | string
  | number
  | boolean
  | undefined
  | null
  | ReadonlyArray<string | number | boolean>;

/** One HTTP call. */
export interface HttpRequest extends RequestOptions {
  method: HttpMethod;
  /** A path relative to the base URL (`/api/management/v1/...`), or an absolute URL. */
  path: string;
  query?: Record<string, QueryValue>;
  /** A JSON body (serialised, `Content-Type: application/json`). */
  json?: unknown;
  /** A raw or streaming body. A one-shot stream disables retries of this call; pass a factory to keep them. */
  body?: RequestBody;
  contentType?: string;
  contentLength?: number;
  /** How to read the response body. Default `'json'` (an empty body gives `undefined`). */
  responseType?: 'json' | 'text' | 'buffer' | 'stream' | 'void';
  /**
   * Send the `Authorization` header from the client's `auth` (default true); false for signed URLs;
   * or a {@link TokenSource} to use for this call instead of the client's `auth`, with the same one
   * refresh and re-send on 401 (a client shared by calls that authenticate differently).
   */
  auth?: boolean | TokenSource;
}

/** A response; with `responseType: 'stream'`, `data` is a Readable the caller must consume or destroy. */
export interface HttpResponse<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  data: T;
  /** The `X-MEN-RequestID` the server answered with (or the one sent). */
  requestId: string | undefined;
  /** The URL requested, with credentials and signed-URL secrets redacted. */
  url: string;
}

/** Events of an {@link HttpClient} (`client.events.on('retry', ...)`). URLs are redacted; no auth ever. */
export interface HttpEvents {
  request: (e: { method: HttpMethod; url: string; attempt: number; requestId: string }) => void;
  response: (e: {
    method: HttpMethod;
    url: string;
    attempt: number;
    requestId: string | undefined;
    status: number;
    durationMs: number;
  }) => void;
  retry: (e: {
    method: HttpMethod;
    url: string;
    attempt: number;
    delayMs: number;
    reason: string;
    status?: number;
  }) => void;
}

/** One page of a Mender list. */
export interface Page<T> {
  items: T[];
  /** From `X-Total-Count`, when the server sends it. */
  totalCount: number | undefined;
  /** 1-based page number. */
  page: number;
  perPage: number;
  /** Whether another page follows (a `Link rel="next"`, or a full page without a Link header). */
  hasNext: boolean;
}

/** Options of `HttpClient.paginate`. */
export interface PaginateOptions<T> extends RequestOptions {
  query?: Record<string, QueryValue>;
  /** Page size (`per_page`). Default 20, like Mender. */
  perPage?: number;
  /** First page. Default 1. */
  page?: number;
  /** Extracts the items from a response body. Default: the body is the array. */
  extract?: (body: unknown) => T[];
}
