/**
 * The HTTP read API, served by whichever process owns the store. JSON only:
 *
 * - `GET /v1/telemetry/latest?device=ID&device=ID2&registry=&kind=&from=&to=&limit=` →
 *   `{"devices": TelemetryRecord[]}`, the newest message per device;
 * - `GET /v1/telemetry/messages?…&limit=` → `{"messages": TelemetryRecord[]}`, newest first;
 * - `GET /v1/telemetry/releases?metric=NAME&…` → `{"metric": NAME, "releases": ReleaseAggregate[]}`.
 *
 * Times are ISO 8601. Errors are `{"error", "code"}` with 400 (bad query), 401, 503 or 500.
 */

import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { TelemetryValidationError } from '../errors.js';
import type { TelemetryStore } from '../store.js';
import type { TelemetryFilter } from '../types.js';
import { type ListenOptions, listen, sameSecret, sendError, type TelemetryServer } from './server.js';

/** The paths of the read API. */
export const TELEMETRY_API_PATHS = {
  latest: '/v1/telemetry/latest',
  messages: '/v1/telemetry/messages',
  releases: '/v1/telemetry/releases',
} as const;

/** Options of {@link telemetryApiPlugin}. */
export interface TelemetryApiPluginOptions {
  store: TelemetryStore;
  /** When set, requests must send `Authorization: Bearer <token>` (compared in constant time). */
  token?: string | undefined;
}

/** Options of {@link startTelemetryApi}. */
export interface TelemetryApiOptions extends TelemetryApiPluginOptions, ListenOptions {}

type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new TelemetryValidationError(`query parameter ${name} is given more than once`);
  return v === undefined || v === '' ? undefined : v;
}

function intParam(q: Query, name: string): number | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new TelemetryValidationError(`${name} must be a positive integer`);
  return Number(v);
}

function filterOf(q: Query): TelemetryFilter {
  const devices = q.device;
  const kind = one(q, 'kind');
  if (kind !== undefined && kind !== 'event' && kind !== 'state') {
    throw new TelemetryValidationError("kind must be 'event' or 'state'");
  }
  return {
    deviceIds: devices === undefined ? undefined : Array.isArray(devices) ? devices : [devices],
    registry: one(q, 'registry'),
    kind,
    from: one(q, 'from'),
    to: one(q, 'to'),
  };
}

/**
 * A Fastify plugin serving the read API on an app you own (the sandbox registers it on its own).
 *
 * @example
 * ```ts
 * app.register(telemetryApiPlugin, { store })
 * ```
 */
export const telemetryApiPlugin: FastifyPluginAsync<TelemetryApiPluginOptions> = async (
  app: FastifyInstance,
  options: TelemetryApiPluginOptions,
) => {
  const { store, token } = options;
  const authorized = (request: FastifyRequest): boolean => {
    if (token === undefined) return true;
    const header = request.headers.authorization;
    return typeof header === 'string' && header.startsWith('Bearer ') && sameSecret(header.slice(7), token);
  };
  const route = (path: string, run: (q: Query) => Promise<unknown>): void => {
    app.get(path, async (request, reply) => {
      if (!authorized(request)) {
        return reply.code(401).send({ error: 'missing or wrong bearer token', code: 'ERR_UNAUTHORIZED' });
      }
      try {
        return reply.send(await run(request.query as Query));
      } catch (err) {
        return sendError(reply, err);
      }
    });
  };
  route(TELEMETRY_API_PATHS.latest, async (q) => ({
    devices: await store.latest({ ...filterOf(q), limit: intParam(q, 'limit') }),
  }));
  route(TELEMETRY_API_PATHS.messages, async (q) => ({
    messages: await store.messages({ ...filterOf(q), limit: intParam(q, 'limit') }),
  }));
  route(TELEMETRY_API_PATHS.releases, async (q) => {
    const metric = one(q, 'metric');
    if (metric === undefined) throw new TelemetryValidationError('metric is required');
    return { metric, releases: await store.releaseAggregates({ ...filterOf(q), metric }) };
  });
};

/**
 * Starts the read API over `store` on its own port.
 *
 * @example
 * ```ts
 * const api = await startTelemetryApi({ store, port: 8086 })
 * console.log(`${api.url}/v1/telemetry/latest`)
 * ```
 */
export async function startTelemetryApi(options: TelemetryApiOptions): Promise<TelemetryServer> {
  return listen(options, (app) =>
    app.register(telemetryApiPlugin, { store: options.store, token: options.token }),
  );
}
