import { Buffer } from 'node:buffer';
import type { HttpClient, RequestOptions } from '@otakit/core';

/** User credentials: logs in through useradm (`POST /api/management/v1/useradm/auth/login`). */
export interface PasswordAuth {
  email: string;
  password: string;
}

/** A personal access token created in the Mender UI or with `POST /useradm/settings/tokens`. */
export interface PersonalAccessTokenAuth {
  personalAccessToken: string;
}

/**
 * How a {@link ManagementClient} authenticates: a bearer token (user JWT or personal access token)
 * as a string, `{ personalAccessToken }`, or `{ email, password }` (logs in on first use and logs in
 * again once per call when the server answers 401).
 */
export type ManagementAuth = string | PersonalAccessTokenAuth | PasswordAuth;

const LOGIN_PATH = '/api/management/v1/useradm/auth/login';

/**
 * Logs in to useradm with an email and a password and returns the user JWT.
 *
 * @example
 * ```ts
 * const token = await login(http, { email: 'admin@example.com', password: 'secret' })
 * ```
 */
export async function login(
  http: HttpClient,
  credentials: PasswordAuth,
  opts: RequestOptions = {},
): Promise<string> {
  const basic = Buffer.from(`${credentials.email}:${credentials.password}`, 'utf8').toString('base64');
  const res = await http.request<string>({
    ...opts,
    method: 'POST',
    path: LOGIN_PATH,
    auth: false,
    headers: { ...opts.headers, authorization: `Basic ${basic}` },
    responseType: 'text',
  });
  return parseToken(res.data);
}

/** useradm answers `application/jwt` (raw text), some servers a JSON string: accept both. */
function parseToken(body: string): string {
  const text = body.trim();
  if (text.startsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'string') return parsed;
    } catch {
      // not JSON: use as is
    }
  }
  return text;
}

/**
 * Holds the bearer token of a client. With credentials it logs in lazily, shares one login among
 * concurrent calls, and logs in again when a call reports the token it used was refused.
 * @internal
 */
export class Session {
  #token: string | undefined;
  readonly #credentials: PasswordAuth | undefined;
  #login: Promise<string> | undefined;
  #http: HttpClient | undefined;

  constructor(auth: ManagementAuth | undefined) {
    if (typeof auth === 'string') this.#token = auth;
    else if (auth !== undefined && 'personalAccessToken' in auth) this.#token = auth.personalAccessToken;
    else if (auth !== undefined) this.#credentials = { email: auth.email, password: auth.password };
  }

  /** Binds the HTTP client used to log in. */
  bind(http: HttpClient): void {
    this.#http = http;
  }

  /** Whether a refused token can be replaced by logging in again. */
  get canRelogin(): boolean {
    return this.#credentials !== undefined;
  }

  /** The current token, without logging in. */
  get current(): string | undefined {
    return this.#token;
  }

  /** The token to use, logging in first when there are credentials and no token yet. */
  async token(opts?: RequestOptions): Promise<string | undefined> {
    if (this.#token !== undefined || this.#credentials === undefined) return this.#token;
    return this.#doLogin(opts);
  }

  /** Replaces `stale` with a fresh token (one login for all callers that saw the same stale token). */
  async relogin(stale: string | undefined, opts?: RequestOptions): Promise<string> {
    if (this.#token !== undefined && this.#token !== stale) return this.#token;
    this.#token = undefined;
    return this.#doLogin(opts);
  }

  #doLogin(opts?: RequestOptions): Promise<string> {
    const credentials = this.#credentials;
    const http = this.#http;
    if (credentials === undefined || http === undefined) throw new Error('no credentials to log in with');
    this.#login ??= login(http, credentials, { signal: opts?.signal, timeout: opts?.timeout })
      .then((token) => {
        this.#token = token;
        return token;
      })
      .finally(() => {
        this.#login = undefined;
      });
    return this.#login;
  }
}
