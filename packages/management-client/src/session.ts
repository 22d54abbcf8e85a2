import { Buffer } from 'node:buffer';
import { type HttpClient, RefreshingToken, type RequestOptions, type TokenSource } from '@otakit/core';

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
 * The token source of a {@link ManagementClient} for its `auth`: a static token (no refresh, so a
 * 401 stands), or, for `{ email, password }`, core's {@link RefreshingToken} logging in through
 * useradm: lazily, once for concurrent calls, and once more when a call is refused with 401 (the
 * `HttpClient` then re-sends that call once).
 * @internal
 */
export function managementTokenSource(auth: ManagementAuth | undefined, http: () => HttpClient): TokenSource {
  if (auth === undefined) return { token: () => undefined };
  if (typeof auth === 'string') return { token: () => auth };
  if ('personalAccessToken' in auth) {
    const token = auth.personalAccessToken;
    return { token: () => token };
  }
  const credentials: PasswordAuth = { email: auth.email, password: auth.password };
  return new RefreshingToken({
    obtain: (opts) =>
      login(http(), credentials, {
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
        ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
      }),
  });
}
