import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@otakit/core';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { nowSeconds, type SandboxContext } from './context.js';
import { HttpError, SandboxError } from './errors.js';
import { type FaultConfig, FaultController } from './faults.js';
import { sendError } from './http.js';
import {
  DEFAULT_IOT_CORE_REGISTRY,
  type IotCoreSandbox,
  type IotCoreSandboxOptions,
  startIotCoreSandbox,
} from './iot-core/index.js';
import { artifactRoutes } from './routes/artifacts.js';
import { deploymentsDeviceRoutes } from './routes/deployments-devices.js';
import { deploymentsManagementRoutes } from './routes/deployments-management.js';
import { deviceauthDeviceRoutes } from './routes/deviceauth-devices.js';
import { deviceauthManagementRoutes } from './routes/deviceauth-management.js';
import {
  configurationDownloadRoutes,
  deviceconfigDeviceRoutes,
  deviceconfigManagementRoutes,
} from './routes/deviceconfig.js';
import { downloadRoutes } from './routes/downloads.js';
import { faultRoutes } from './routes/faults.js';
import { inventoryDeviceRoutes } from './routes/inventory-devices.js';
import { inventoryManagementRoutes } from './routes/inventory-management.js';
import { useradmRoutes } from './routes/useradm.js';
import { loadOrCreateSecrets, signJwt } from './signing.js';
import { Store } from './store.js';

/** Default admin e-mail. */
export const DEFAULT_ADMIN_EMAIL = 'admin@otakit.local';
/** Default admin password. */
export const DEFAULT_ADMIN_PASSWORD = 'otakit-sandbox';
/** Body limit of every route except the artifact upload: 1 MiB, like the real server. */
export const BODY_LIMIT = 1024 * 1024;

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string;
  /** Keep state and artifacts here so they survive a restart; in memory (and a temp dir) when omitted. */
  dataDir?: string;
  /** Admin e-mail for basic-auth login (default `admin@otakit.local`). */
  adminEmail?: string;
  /** Admin password (default `otakit-sandbox`). */
  adminPassword?: string;
  /**
   * Request logging: `false` (default) is silent, `true` logs at `info`, or give a level. URLs are
   * logged without their query (signed links) and no header (tokens) is ever logged.
   */
  logger?:
    | boolean
    | {
        level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
        /** Where JSON log lines go (default stdout). */
        stream?: { write(line: string): void };
      };
  /** Serve `POST /api/devices/v2/deployments/device/deployments/next` (default true; false answers 404). */
  v2Next?: boolean;
  /** Device JWT lifetime in seconds (default 604800 = 7 days). */
  deviceTokenTtlSeconds?: number;
  /** Management JWT lifetime in seconds (default 604800 = 7 days). */
  userTokenTtlSeconds?: number;
  /**
   * Most devices that may be accepted at once (default -1: unlimited). Accepting one more answers
   * 422; a preauthorized device over the limit gets 401, like the server's `max_devices` limit.
   */
  maxDevices?: number;
  /** PEM public keys uploaded artifacts must be signed with; when omitted signatures are not checked. */
  trustedKeys?: string[];
  /** Faults active from the start. */
  faults?: FaultConfig;
  /** The clock (default `() => new Date()`); lets tests move time forward. */
  now?: () => Date;
  /**
   * Serve the IoT Core plane from the same process too: the device manager API and HTTP bridge on
   * their own port, and the MQTT bridge. `true` uses the defaults. With `dataDir` its registries
   * and devices persist there as well (`iot-core.json`). Off when omitted.
   */
  iotCore?: boolean | SandboxIotCoreOptions;
}

/** The IoT Core plane of {@link startSandbox}: one registry, its ports, token and telemetry sink. */
export interface SandboxIotCoreOptions
  extends Pick<
    IotCoreSandboxOptions,
    'adminToken' | 'telemetrySink' | 'maxInFlightWrites' | 'recentMessages' | 'mqtt'
  > {
  /** Project id (default `otakit-sandbox`); also the `aud` device JWTs must carry. */
  project?: string;
  /** Region (default `us-central1`). */
  location?: string;
  /** Registry id (default `devices`). */
  registry?: string;
  /** Port of the device manager API and HTTP bridge; 0 (default) picks a free one. */
  port?: number;
  /** MQTT bridge port; 0 (default) picks a free one. */
  mqttPort?: number;
}

/** A running sandbox. */
export interface Sandbox {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Admin e-mail for `POST /api/management/v1/useradm/auth/login`. */
  readonly adminEmail: string;
  /** Admin password. */
  readonly adminPassword: string;
  /** The data directory, when state is persisted. */
  readonly dataDir: string | undefined;
  /** Fault switches; see {@link FaultController}. */
  readonly faults: FaultController;
  /** The IoT Core plane (`url`, `mqttUrl`, `adminToken`, `registries`…), when `iotCore` was asked for. */
  readonly iotCore: IotCoreSandbox | undefined;
  /**
   * A management JWT for the admin without an HTTP round trip: the one minted when the sandbox
   * started (valid `userTokenTtlSeconds` from then, default 7 days). Use
   * {@link Sandbox.issueManagementToken} for a fresh one.
   */
  managementToken(): string;
  /** Mints a fresh management JWT for the admin (a new `jti`, valid from now). */
  issueManagementToken(): Promise<string>;
  /** Stops the server (open downloads are cut), saves state, removes the temporary artifact dir. */
  close(): Promise<void>;
}

/**
 * Starts a local Mender-compatible server.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox();
 * const res = await fetch(`${sandbox.url}/api/management/v1/useradm/auth/login`, {
 *   method: 'POST',
 *   headers: { authorization: `Basic ${btoa(`${sandbox.adminEmail}:${sandbox.adminPassword}`)}` },
 * });
 * const jwt = await res.text();
 * await sandbox.close();
 * ```
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const adminEmail = options.adminEmail ?? DEFAULT_ADMIN_EMAIL;
  const adminPassword = options.adminPassword ?? DEFAULT_ADMIN_PASSWORD;
  const store = new Store(options.dataDir);
  const secrets = loadOrCreateSecrets(options.dataDir);
  let tempDir: string | undefined;
  let artifactsDir: string;
  if (options.dataDir) {
    artifactsDir = join(options.dataDir, 'artifacts');
    mkdirSync(artifactsDir, { recursive: true });
  } else {
    tempDir = mkdtempSync(join(tmpdir(), 'otakit-sandbox-'));
    artifactsDir = tempDir;
  }
  const faults = new FaultController();
  if (options.faults) faults.set(options.faults);
  const now = options.now ?? (() => new Date());
  const digest = createHash('sha256').update(adminEmail.toLowerCase()).digest('hex');
  const ctx: SandboxContext = {
    store,
    secrets,
    faults,
    adminEmail,
    adminPassword,
    adminUserId: `${digest.slice(0, 8)}-${digest.slice(8, 12)}-4${digest.slice(13, 16)}-8${digest.slice(17, 20)}-${digest.slice(20, 32)}`,
    artifactsDir,
    deviceIssuer: 'Mender',
    userIssuer: 'mender.useradm',
    deviceTokenTtl: options.deviceTokenTtlSeconds ?? 604_800,
    userTokenTtl: options.userTokenTtlSeconds ?? 604_800,
    v2Next: options.v2Next ?? true,
    maxDevices: options.maxDevices ?? -1,
    ...(options.trustedKeys ? { trustedKeys: options.trustedKeys } : {}),
    startedAt: now().toISOString(),
    now,
  };

  const app = buildApp(ctx, options.logger ?? false);
  try {
    await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (err) {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw new SandboxError('ERR_SANDBOX_START', 'the sandbox could not start listening', { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 0);
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed = false;
  const issueManagementToken = (): Promise<string> => {
    const iat = nowSeconds(ctx);
    return signJwt(
      {
        jti: randomUUID(),
        sub: ctx.adminUserId,
        iss: ctx.userIssuer,
        iat,
        nbf: iat,
        exp: iat + ctx.userTokenTtl,
        'mender.user': true,
        scp: 'mender.*',
      },
      secrets.jwtKey,
    );
  };
  let startToken: string;
  try {
    startToken = await issueManagementToken();
  } catch (err) {
    await app.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw new SandboxError('ERR_SANDBOX_START', 'the sandbox could not mint its admin token', { cause: err });
  }
  let iotCore: IotCoreSandbox | undefined;
  if (options.iotCore !== undefined && options.iotCore !== false) {
    const o = options.iotCore === true ? {} : options.iotCore;
    try {
      iotCore = await startIotCoreSandbox({
        host,
        port: o.port ?? 0,
        mqttPort: o.mqttPort ?? 0,
        registries: [
          {
            project: o.project ?? DEFAULT_IOT_CORE_REGISTRY.project,
            location: o.location ?? DEFAULT_IOT_CORE_REGISTRY.location,
            registry: o.registry ?? DEFAULT_IOT_CORE_REGISTRY.registry,
          },
        ],
        now,
        ...(o.adminToken !== undefined ? { adminToken: o.adminToken } : {}),
        ...(o.mqtt !== undefined ? { mqtt: o.mqtt } : {}),
        ...(o.telemetrySink ? { telemetrySink: o.telemetrySink } : {}),
        ...(o.maxInFlightWrites !== undefined ? { maxInFlightWrites: o.maxInFlightWrites } : {}),
        ...(o.recentMessages !== undefined ? { recentMessages: o.recentMessages } : {}),
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      });
    } catch (err) {
      await app.close();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      if (err instanceof SandboxError) throw err;
      throw new SandboxError('ERR_SANDBOX_START', 'the IoT Core sandbox could not start listening', {
        cause: err,
      });
    }
  }
  return {
    url,
    port,
    adminEmail,
    adminPassword,
    dataDir: options.dataDir,
    faults,
    iotCore,
    managementToken: () => startToken,
    issueManagementToken,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([app.close(), iotCore?.close()]);
      store.markChanged();
      store.flush();
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

const redactUrl = (url: string): string => {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?[redacted]`;
};

function buildApp(ctx: SandboxContext, logger: SandboxOptions['logger']): FastifyInstance {
  const app = Fastify({
    logger:
      logger === false || logger === undefined
        ? false
        : {
            level: logger === true ? 'info' : logger.level,
            ...(logger !== true && logger.stream ? { stream: logger.stream } : {}),
            // @fastify/multipart logs busboy's options (request headers) at trace level.
            redact: {
              paths: [
                'busboyOptions.headers',
                'headers.authorization',
                '*.headers.authorization',
                'req.headers',
              ],
              censor: '[redacted]',
            },
            serializers: {
              req: (req: { method: string; url: string }) => ({
                method: req.method,
                url: redactUrl(req.url),
              }),
            },
          },
    bodyLimit: BODY_LIMIT,
    requestIdHeader: 'x-men-requestid',
    genReqId: () => randomUUID(),
    forceCloseConnections: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch {
      done(new HttpError(400, 'failed to decode request body: invalid JSON'), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-MEN-RequestID', request.id);
    const path = request.url.split('?')[0] ?? '';
    const f = ctx.faults.forRequest(path);
    if (f.latencyMs > 0) await sleep(f.latencyMs);
    if (f.rateLimit) {
      if (f.rateLimit.retryAfter !== undefined) reply.header('Retry-After', String(f.rateLimit.retryAfter));
      return sendError(request, reply, 429, 'too many requests');
    }
    if (f.serverError !== undefined) {
      return sendError(
        request,
        reply,
        f.serverError,
        f.serverError === 503 ? 'service unavailable' : 'internal error',
      );
    }
  });

  app.addHook('onSend', async () => {
    ctx.store.flush();
  });

  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      reply.headers(error.headers);
      if (error.body !== undefined) return reply.code(error.status).send(error.body);
      return sendError(request, reply, error.status, error.message);
    }
    const status = (error as FastifyError).statusCode;
    if (status === 415) return sendError(request, reply, 415, 'Unsupported Content-Type');
    if (status === 413) return sendError(request, reply, 413, 'request body too large');
    if (status !== undefined && status >= 400 && status < 500)
      return sendError(request, reply, status, error.message);
    request.log.error({ err: error }, 'request failed');
    return sendError(request, reply, 500, 'internal error');
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, 404, 'not found'));

  const area = (fn: (scope: FastifyInstance, ctx: SandboxContext) => Promise<void>) =>
    app.register(async (scope) => fn(scope, ctx));
  area(useradmRoutes);
  area(deviceauthDeviceRoutes);
  area(deviceauthManagementRoutes);
  area(inventoryDeviceRoutes);
  area(inventoryManagementRoutes);
  area(deploymentsDeviceRoutes);
  area(deploymentsManagementRoutes);
  area(artifactRoutes);
  area(downloadRoutes);
  area(deviceconfigManagementRoutes);
  area(deviceconfigDeviceRoutes);
  area(configurationDownloadRoutes);
  area(faultRoutes);
  return app;
}
