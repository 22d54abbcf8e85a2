/** What a {@link TokenSource} may use when it has to fetch a token (a login call). */
export interface TokenRequestOptions {
  /** The signal of the call that needs the token. */
  signal?: AbortSignal | undefined;
  /** The per-attempt timeout of that call, ms. */
  timeout?: number | undefined;
}

/**
 * Where an {@link HttpClient} gets its bearer token, with a way to replace a refused one.
 *
 * The client calls `token()` before every attempt. When the server answers 401 to a request that
 * carried a token from this source, and `refresh` exists, the client calls `refresh(refused)` once
 * and sends the request once more with the fresh token; a second 401 is thrown as
 * `UnauthorizedError`. A request whose body was a one-shot stream, sent with `auth: false`, sent to
 * another origin, or carrying its own `authorization` header is never re-sent.
 *
 * Implement it yourself, or use {@link RefreshingToken}, which caches the token and shares one
 * refresh among concurrent 401s.
 */
export interface TokenSource {
  /** The token to send (`undefined` or `''`: send no `Authorization`). May fetch one first. */
  token(options?: TokenRequestOptions): string | undefined | Promise<string | undefined>;
  /**
   * Replaces `refused` (the token the refused request carried) with a fresh one. Callers that saw
   * the same refused token share one refresh; one that saw an older token gets the current one.
   * Resolve `undefined` when no fresh token can be had: the 401 then stands. A resolved token is
   * sent even when it equals the refused one (a server may re-issue the same bytes, as Mender does
   * for a re-authentication within the same second).
   */
  refresh?(refused: string | undefined, options?: TokenRequestOptions): Promise<string | undefined>;
}

/** A token from {@link RefreshingTokenOptions.obtain} with the time it is due for renewal. */
export interface ObtainedToken {
  /** The bearer token. */
  token: string;
  /**
   * When to renew it, epoch ms (e.g. some margin before its `exp`): from then on `token()`
   * obtains a fresh one before the next call instead of sending this one. Default: never (only a
   * 401 renews it).
   */
  renewAt?: number | undefined;
}

/** Options of a {@link RefreshingToken}. */
export interface RefreshingTokenOptions {
  /**
   * Fetches a fresh token (a login, a device auth request). Called lazily, once at a time. Resolve
   * an {@link ObtainedToken} to have the token renewed ahead of its expiry.
   */
  obtain: (options: TokenRequestOptions) => Promise<string | ObtainedToken>;
  /** A token to start with (obtained earlier); `obtain` runs on first use otherwise. */
  initial?: string;
}

/**
 * A {@link TokenSource} over an `obtain` function: fetches the token on first use, caches it,
 * shares one `obtain` among concurrent callers (first use, and concurrent 401s), and fetches again
 * only when the refused token is still the current one, or ahead of time once its `renewAt` has
 * passed. A failed `obtain` is not cached: the next call tries again.
 *
 * @example
 * ```ts
 * const auth = new RefreshingToken({ obtain: (opts) => login(http, { email, password }, opts) })
 * const http = new HttpClient({ baseUrl, auth }) // a 401 logs in once more and re-sends the call
 * ```
 */
export class RefreshingToken implements TokenSource {
  readonly #obtain: (options: TokenRequestOptions) => Promise<string | ObtainedToken>;
  #token: string | undefined;
  /** When the cached token is due for renewal, epoch ms (undefined: only a 401 renews it). */
  #renewAt: number | undefined;
  #pending: Promise<string> | undefined;

  constructor(options: RefreshingTokenOptions) {
    this.#obtain = options.obtain;
    this.#token = options.initial;
  }

  /** The cached token, without fetching one. */
  get current(): string | undefined {
    return this.#token;
  }

  /** The cached token, or a fresh one when there is none yet or the cached one is due for renewal. */
  token(options: TokenRequestOptions = {}): string | Promise<string> {
    if (this.#token !== undefined && (this.#renewAt === undefined || Date.now() < this.#renewAt)) {
      return this.#token;
    }
    return this.#fetch(options);
  }

  /** A fresh token in place of `refused` (shared with concurrent callers; see {@link TokenSource}). */
  async refresh(refused: string | undefined, options: TokenRequestOptions = {}): Promise<string> {
    if (this.#token !== undefined && this.#token !== refused) return this.#token;
    this.#token = undefined;
    return this.#fetch(options);
  }

  /** Forgets the cached token (a logout): the next call fetches a fresh one. */
  clear(): void {
    this.#token = undefined;
    this.#renewAt = undefined;
  }

  #fetch(options: TokenRequestOptions): Promise<string> {
    if (this.#pending === undefined) {
      const pending = this.#obtain(options).then(
        (obtained) => {
          const token = typeof obtained === 'string' ? obtained : obtained.token;
          this.#token = token;
          this.#renewAt = typeof obtained === 'string' ? undefined : obtained.renewAt;
          this.#pending = undefined;
          return token;
        },
        (err: unknown) => {
          this.#pending = undefined;
          throw err;
        },
      );
      this.#pending = pending;
    }
    return this.#pending;
  }
}

/** Whether `auth` is a {@link TokenSource} rather than a token function. @internal */
export function isTokenSource(auth: unknown): auth is TokenSource {
  return typeof auth === 'object' && auth !== null && typeof (auth as TokenSource).token === 'function';
}
