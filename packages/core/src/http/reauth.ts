import { UnauthorizedError } from '../errors.js';
import { isOneShotBody } from './body.js';
import { isTokenSource } from './token.js';
import type { HttpClientOptions, HttpRequest } from './types.js';

/** The token the last attempt of a call carried, when it came from the client's `auth`. @internal */
export interface SentToken {
  fromSource: boolean;
  token: string | undefined;
}

/**
 * The bearer token of one attempt: from the request's own {@link TokenSource} when it carries one,
 * else from the client's `auth`: a token function (called on the options object, as it always was:
 * it may use `this`) or a {@link TokenSource}. Returned as given,
 * so a synchronous token costs the caller no extra turn.
 * @internal
 */
export function attemptToken(
  options: HttpClientOptions,
  req: HttpRequest,
): string | undefined | PromiseLike<string | undefined> {
  const source = isTokenSource(req.auth) ? req.auth : options.auth;
  return isTokenSource(source)
    ? source.token({ signal: req.signal, timeout: req.timeout })
    : (options.auth as () => string | undefined | Promise<string | undefined>)();
}

/**
 * Sends a call with one re-authentication: when `send` rejects with an {@link UnauthorizedError}
 * after an attempt that carried a token from a {@link TokenSource} with `refresh`, and the body can
 * be sent again, asks the source for a fresh token (shared with concurrent 401s) and calls `send`
 * once more; `onResend` is told first. A refresh that gives no token lets the 401 stand.
 * @internal
 */
export async function withReauthentication<T>(
  auth: HttpClientOptions['auth'],
  req: HttpRequest,
  send: (sent: SentToken) => Promise<T>,
  onResend: () => void,
): Promise<T> {
  const sent: SentToken = { fromSource: false, token: undefined };
  try {
    return await send(sent);
  } catch (err) {
    if (
      !(err instanceof UnauthorizedError) ||
      !sent.fromSource ||
      !isTokenSource(auth) ||
      auth.refresh === undefined ||
      isOneShotBody(req.body)
    ) {
      throw err;
    }
    const fresh = await auth.refresh(sent.token, { signal: req.signal, timeout: req.timeout });
    // The same string may come back: a server re-issues identical bytes within a second (Mender).
    if (fresh === undefined || fresh === '') throw err;
    onResend();
    return await send(sent);
  }
}
