/** What the push ingest server and the read API share: listening, bearer/token checks, errors. */

import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import {
  TelemetryBackpressureError,
  TelemetryClosedError,
  TelemetryError,
  TelemetryValidationError,
} from '../errors.js';

/** A running HTTP server of this package. */
export interface TelemetryServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections and waits for the requests in progress. Leaves the store open. */
  close(): Promise<void>;
}

/** Where to listen. */
export interface ListenOptions {
  /** Port (default 0: a free one). */
  port?: number;
  /** Interface (default `127.0.0.1`). */
  host?: string;
}

/** Whether `given` equals `expected`, in time that does not depend on where they differ. */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Builds a Fastify app (no logger: request URLs may carry a push token), registers, listens. */
export async function listen(
  options: ListenOptions & { bodyLimit?: number },
  register: (app: FastifyInstance) => PromiseLike<unknown> | undefined,
): Promise<TelemetryServer> {
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 1024 * 1024 });
  await register(app);
  await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const host = options.host ?? '127.0.0.1';
  const shown = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${port}`, port, close: () => app.close() };
}

/** The HTTP status for a store error. */
export function statusOf(err: unknown): number {
  if (err instanceof TelemetryValidationError) return 400;
  if (err instanceof TelemetryBackpressureError || err instanceof TelemetryClosedError) return 503;
  return 500;
}

/** Answers `err` as `{error, code}` JSON; 503s carry `Retry-After: 1`. */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const status = statusOf(err);
  if (status === 503) reply.header('retry-after', '1');
  const code = err instanceof TelemetryError ? err.code : 'ERR_INTERNAL';
  const message = err instanceof TelemetryError ? err.message : 'internal error';
  return reply.code(status).send({ error: message, code });
}
