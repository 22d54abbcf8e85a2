/**
 * Query parameters whose values are secrets: Mender's signed configuration links (`x-men-signature`),
 * S3/GCS/Azure presigned URLs, and tokens some servers accept in the query. Compared case-insensitively.
 */
export const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'x-men-signature',
  'signature',
  'sig',
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'jwt',
  'password',
  'secret',
  'client_secret',
  'api_key',
  'apikey',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
]);

const REDACTED = 'REDACTED';

/**
 * Returns `url` with everything secret replaced by `REDACTED`: URL userinfo (`user:password@`) and
 * the values of secret query parameters ({@link SECRET_QUERY_PARAMS}); the fragment is dropped. The
 * rest of the URL is kept (absolute URLs in their WHATWG-normalised form), so a redacted URL still
 * tells you which endpoint and which query was called.
 * Relative URLs and strings that do not parse are redacted as well as possible, never returned raw.
 *
 * @example
 * ```ts
 * redactUrl('https://s3.example.com/a?X-Amz-Signature=abc&part=1')
 * // 'https://s3.example.com/a?X-Amz-Signature=REDACTED&part=1'
 * ```
 */
export function redactUrl(url: string | URL): string {
  const text = normalise(url);
  const hashAt = text.indexOf('#');
  const withoutHash = hashAt === -1 ? text : text.slice(0, hashAt);
  const queryAt = withoutHash.indexOf('?');
  const head = queryAt === -1 ? withoutHash : withoutHash.slice(0, queryAt);
  const query = queryAt === -1 ? undefined : withoutHash.slice(queryAt + 1);
  return redactUserinfo(head) + (query === undefined ? '' : `?${redactQuery(query)}`);
}

/** An absolute URL as WHATWG parses it (so `https:\\u:p@h` is seen as the userinfo it is), else as given. */
function normalise(url: string | URL): string {
  if (typeof url !== 'string') return url.href;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url)) return url;
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

function redactUserinfo(head: string): string {
  // [scheme:]//userinfo@host/... ; the userinfo ends at the last '@' before the path starts.
  const match = /^((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/)([^/\\]*)(.*)$/s.exec(head);
  if (match === null) return head;
  const [, scheme, authority = '', rest = ''] = match;
  const at = authority.lastIndexOf('@');
  if (at === -1) return head;
  return `${scheme}${REDACTED}@${authority.slice(at + 1)}${rest}`;
}

/** A query string (without the `?`) with the values of secret parameters replaced. @internal */
export function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq === -1 ? pair : pair.slice(0, eq);
      let name: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        name = rawName;
      }
      return SECRET_QUERY_PARAMS.has(name.toLowerCase()) && eq !== -1 ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
}
