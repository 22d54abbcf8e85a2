/**
 * Pub/Sub push ingest: the endpoint a Pub/Sub push subscription delivers Cloud IoT Core telemetry
 * to. Each delivery is one JSON `{message: {data, attributes, messageId, publishTime}, subscription}`
 * whose attributes are those IoT Core set (`deviceId`, `deviceNumId`, `deviceRegistryId`,
 * `deviceRegistryLocation`, `projectId`, `subFolder`). The answer is 204 only once the message is
 * stored, so Pub/Sub redelivers anything else; redeliveries are stored once (by `messageId`).
 */

import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { TelemetryValidationError } from '../errors.js';
import type { TelemetryKind, TelemetryMessage } from '../message.js';
import type { TelemetryStore } from '../store.js';
import { type ListenOptions, listen, sameSecret, sendError, type TelemetryServer } from './server.js';

/** The Pub/Sub push request body. */
export interface PubSubPushBody {
  message: {
    /** The payload, base64. */
    data?: string;
    attributes?: Record<string, string>;
    messageId?: string;
    message_id?: string;
    /** RFC 3339. */
    publishTime?: string;
    publish_time?: string;
  };
  subscription?: string;
}

/** Options of {@link pushIngestPlugin}. */
export interface PushIngestPluginOptions {
  store: TelemetryStore;
  /**
   * When set, each delivery must carry `?token=<this>` in its URL (the push endpoint's secret).
   * Compared in constant time; never logged.
   */
  token?: string | undefined;
  /** The route (default `/`). `?kind=state` marks deliveries from a state notification topic. */
  path?: string | undefined;
}

/** Options of {@link startPushIngest}. */
export interface PushIngestOptions extends PushIngestPluginOptions, ListenOptions {
  /** Largest request body in bytes (default 512 KiB: a 256 KiB payload in base64 plus its envelope). */
  bodyLimit?: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const REQUIRED = ['deviceId', 'projectId', 'deviceRegistryLocation', 'deviceRegistryId'] as const;

/**
 * Turns one push delivery into a {@link TelemetryMessage}: id `pubsub:<kind>:<messageId>`,
 * registry `projects/P/locations/L/registries/R`, received at `publishTime`. Throws
 * {@link TelemetryValidationError} for a delivery without those fields.
 */
export function messageFromPush(body: unknown, kind: TelemetryKind = 'event'): TelemetryMessage {
  const message = (body as PubSubPushBody | undefined)?.message;
  if (typeof message !== 'object' || message === null) {
    throw new TelemetryValidationError('a push delivery must be a JSON object with a "message" object');
  }
  const attributes = message.attributes;
  if (typeof attributes !== 'object' || attributes === null) {
    throw new TelemetryValidationError('the pushed message has no attributes');
  }
  const attr = (name: string): string | undefined => {
    if (!Object.hasOwn(attributes, name)) return undefined;
    const value = attributes[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  for (const name of REQUIRED) {
    if (attr(name) === undefined)
      throw new TelemetryValidationError(`the pushed message has no attribute ${name}`);
  }
  const messageId = message.messageId ?? message.message_id;
  if (typeof messageId !== 'string' || messageId === '') {
    throw new TelemetryValidationError('the pushed message has no messageId');
  }
  const data = message.data ?? '';
  if (typeof data !== 'string' || !BASE64.test(data) || data.length % 4 !== 0) {
    throw new TelemetryValidationError('the pushed message data is not base64');
  }
  const published = message.publishTime ?? message.publish_time;
  const receivedAt =
    typeof published === 'string' && Number.isFinite(Date.parse(published)) ? published : undefined;
  return {
    id: `pubsub:${kind}:${messageId}`,
    deviceId: attr('deviceId') as string,
    registry: `projects/${attr('projectId')}/locations/${attr('deviceRegistryLocation')}/registries/${attr('deviceRegistryId')}`,
    kind,
    subfolder: attr('subFolder') ?? '',
    payload: new Uint8Array(Buffer.from(data, 'base64')),
    ...(receivedAt === undefined ? {} : { receivedAt }),
  };
}

/**
 * A Fastify plugin serving the push endpoint on an app you own.
 *
 * @example
 * ```ts
 * app.register(pushIngestPlugin, { store, token: process.env.PUSH_TOKEN })
 * ```
 */
export const pushIngestPlugin: FastifyPluginAsync<PushIngestPluginOptions> = async (
  app: FastifyInstance,
  options: PushIngestPluginOptions,
) => {
  const { store, token } = options;
  app.post(options.path ?? '/', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    if (
      token !== undefined &&
      !sameSecret(typeof query.token === 'string' ? query.token : undefined, token)
    ) {
      return reply.code(401).send({ error: 'missing or wrong push token', code: 'ERR_UNAUTHORIZED' });
    }
    const kind = query.kind === undefined ? 'event' : query.kind;
    if (kind !== 'event' && kind !== 'state') {
      return reply
        .code(400)
        .send({ error: "kind must be 'event' or 'state'", code: 'ERR_TELEMETRY_INVALID' });
    }
    try {
      await store.append(messageFromPush(request.body, kind));
    } catch (err) {
      return sendError(reply, err);
    }
    return reply.code(204).send();
  });
};

/**
 * Starts a standalone Pub/Sub push ingest server writing into `store`.
 *
 * @example
 * ```ts
 * const store = await openTelemetryStore('./data')
 * const push = await startPushIngest({ store, port: 8085, token: 'secret' })
 * // push subscription endpoint: https://<public host>/?token=secret
 * ```
 */
export async function startPushIngest(options: PushIngestOptions): Promise<TelemetryServer> {
  return listen({ ...options, bodyLimit: options.bodyLimit ?? 512 * 1024 }, (app) =>
    app.register(pushIngestPlugin, { store: options.store, token: options.token, path: options.path }),
  );
}
