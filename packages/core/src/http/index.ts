export { HttpClient, IDEMPOTENT_METHODS, RETRYABLE_STATUSES } from './client.js';
export { DEFAULT_CONNECTIONS } from './dispatcher.js';
export { findLink, type LinkEntry, parseLinkHeader } from './link.js';
export {
  PagePromise,
  type PageResult,
  type PaginateByBodyOptions,
  type PaginationTransport,
  paginateByBody,
  paginateByLink,
} from './paginate.js';
export { redactUrl, SECRET_QUERY_PARAMS } from './redact.js';
export { parseRetryAfter } from './retry-after.js';
export {
  type ObtainedToken,
  RefreshingToken,
  type RefreshingTokenOptions,
  type TokenRequestOptions,
  type TokenSource,
} from './token.js';
export type {
  HttpClientOptions,
  HttpEvents,
  HttpMethod,
  HttpRequest,
  HttpResponse,
  Logger,
  Page,
  PaginateOptions,
  QueryValue,
  RequestBody,
  RequestOptions,
  RetryPolicy,
  TlsOptions,
} from './types.js';
