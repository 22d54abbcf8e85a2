import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from './errors.js';

/** Sends the standard Mender error body `{error, request_id}`. @internal */
export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ error: message, request_id: request.id });
}

/** Page parameters. @internal */
export interface Page {
  page: number;
  perPage: number;
}

/** Maximum `per_page`. */
export const MAX_PER_PAGE = 500;

/** Reads `page` and `per_page` like the Mender server (defaults 1 and 20, max 500). @internal */
export function readPage(query: Record<string, unknown>, defaults = { perPage: 20 }): Page {
  const parse = (name: string, fallback: number): number => {
    const raw = query[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw badRequest(`invalid ${name} query: "${String(raw)}"`);
    return n;
  };
  const page = parse('page', 1);
  const perPage = parse('per_page', defaults.perPage);
  if (perPage > MAX_PER_PAGE) throw badRequest(`parameter "per_page" above limit (max: ${MAX_PER_PAGE})`);
  return { page, perPage };
}

/**
 * Slices `items` to the requested page and sets relative `Link` headers (one header line per
 * relation) and, with `totalCount`, `X-Total-Count`. @internal
 */
export function paginate<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  items: T[],
  options: { totalCount: boolean; page?: Page },
): T[] {
  const { page, perPage } = options.page ?? readPage(request.query as Record<string, unknown>);
  const start = (page - 1) * perPage;
  const slice = items.slice(start, start + perPage);
  const url = new URL(request.url, 'http://sandbox.invalid');
  const link = (p: number, rel: string): string => {
    const q = new URLSearchParams(url.searchParams);
    q.set('page', String(p));
    q.set('per_page', String(perPage));
    return `<${url.pathname}?${q.toString()}>; rel="${rel}"`;
  };
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const links = [link(1, 'first')];
  if (page > 1) links.push(link(page - 1, 'prev'));
  if (start + perPage < items.length) links.push(link(page + 1, 'next'));
  if (options.totalCount) {
    links.push(link(lastPage, 'last'));
    reply.header('X-Total-Count', String(items.length));
  }
  reply.header('Link', links);
  return slice;
}

/** Body as a plain JSON object, or 400. @internal */
export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('failed to decode request body: expected a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Compares two values for sorting (numbers numerically, otherwise as strings). @internal */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = a === undefined ? '' : String(a);
  const sb = b === undefined ? '' : String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Whether `s` looks like a UUID. @internal */
export const isUuid = (s: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
