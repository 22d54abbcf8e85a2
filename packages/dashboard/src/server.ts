/**
 * The dashboard server: a fastify app serving the page, its bundled script, the JSON API and the
 * server-sent events that keep the page live. It polls both planes every `refreshMs` and pushes a
 * snapshot to the open pages only when it changed. Management tokens stay in the management client
 * on this side: no response carries one.
 */

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { DashboardAssetsMissingError, DashboardOptionsError } from './errors.js';
import { CONTENT_SECURITY_POLICY, renderPage } from './html.js';
import { releaseSeries } from './series.js';
import { buildSnapshot, type FleetSnapshot } from './snapshot.js';
import type { ManagementSource, MenderDeploymentDevice, RegistrySource, TelemetrySource } from './sources.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** The Mender management API: a `ManagementClient` from `@otakit/management-client`. */
  management: ManagementSource;
  /** The telemetry store: a `TelemetryStore` or `TelemetryHttpClient` from `@otakit/telemetry`. */
  telemetry: TelemetrySource;
  /** The IoT Core registry (a `RegistryClient` from `@otakit/iot-core-adapter`), for blocked/last event. */
  registry?: RegistrySource | undefined;
  /** Rollout state files to show (a file that does not exist yet is skipped until it does). */
  rolloutStateFiles?: readonly string[] | undefined;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number | undefined;
  /** Interface to listen on (default `127.0.0.1`). */
  host?: string | undefined;
  /** How often both planes are polled, in ms (default 1000). */
  refreshMs?: number | undefined;
  /** The page title (default `otakit fleet`). */
  title?: string | undefined;
}

/** A running dashboard. */
export interface Dashboard {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  readonly url: string;
  /** The latest snapshot (after the first poll). */
  snapshot(): FleetSnapshot | undefined;
  /** Polls both planes now and pushes the result if it changed (resolves when done). */
  refresh(): Promise<FleetSnapshot>;
  /** Stops polling, ends the open event streams and closes the server. */
  close(): Promise<void>;
}

const ASSET_TYPES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Where the built page lives: `dist/page` beside the built module, or `../dist/page` from `src`. */
function assetsDir(): string {
  const here = import.meta.url;
  for (const rel of ['./page/', '../dist/page/']) {
    const dir = fileURLToPath(new URL(rel, here));
    if (existsSync(`${dir}app.js`)) return dir;
  }
  throw new DashboardAssetsMissingError(
    'the dashboard page bundle (dist/page/app.js) is missing: build @otakit/dashboard first',
  );
}

/** The snapshot without its timestamp: what "changed" compares. */
function fingerprint(s: FleetSnapshot): string {
  return JSON.stringify({ ...s, generatedAt: '' });
}

/**
 * Starts the fleet page over both planes.
 *
 * @example
 * ```ts
 * const mgmt = new ManagementClient({ serverUrl: sandbox.url, auth: sandbox.managementToken() })
 * const telemetry = await openTelemetryStore('./telemetry')
 * const dash = await startDashboard({ management: mgmt, telemetry, port: 8090 })
 * console.log(`fleet page: ${dash.url}`)
 * ```
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  if (!options?.management || !options.telemetry) {
    throw new DashboardOptionsError('startDashboard needs a management source and a telemetry source');
  }
  const refreshMs = options.refreshMs ?? 1000;
  if (!Number.isFinite(refreshMs) || refreshMs < 50) {
    throw new DashboardOptionsError('refreshMs must be a number of milliseconds, at least 50');
  }
  const dir = assetsDir();
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSET_TYPES)) assets.set(name, await readFile(`${dir}${name}`));
  const title = options.title ?? 'otakit fleet';
  const sources = {
    management: options.management,
    telemetry: options.telemetry,
    registry: options.registry,
    rolloutStateFiles: options.rolloutStateFiles,
  };

  let current: FleetSnapshot | undefined;
  let currentPrint = '';
  let currentEvent = '';
  const streams = new Set<ServerResponse>();
  /** Devices of finished deployments never change: kept once read. */
  const finishedDevices = new Map<string, MenderDeploymentDevice[]>();

  let inflight: Promise<FleetSnapshot> | undefined;
  const refresh = (): Promise<FleetSnapshot> => {
    inflight ??= buildSnapshot(sources)
      .then((s) => {
        const print = fingerprint(s);
        if (print !== currentPrint) {
          current = s;
          currentPrint = print;
          currentEvent = `event: fleet\ndata: ${JSON.stringify(s)}\n\n`;
          for (const res of streams) res.write(currentEvent);
        }
        return current ?? s;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async (): Promise<void> => {
    await refresh().catch(() => undefined);
    if (!closed) timer = setTimeout(loop, refreshMs);
  };

  const app: FastifyInstance = Fastify({ logger: false });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-resource-policy', 'same-origin');
    return payload;
  });

  app.get('/', async (_req, reply) => {
    const snap = current ?? (await refresh());
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(renderPage(title, JSON.stringify(snap)));
  });
  app.get<{ Params: { name: string } }>('/assets/:name', async (req, reply) => {
    const body = assets.get(req.params.name);
    const type = ASSET_TYPES[req.params.name];
    if (body === undefined || type === undefined) return reply.code(404).send({ error: 'not found' });
    return reply.type(type).send(body);
  });
  app.get('/api/fleet', async () => current ?? (await refresh()));
  app.get<{ Querystring: { release?: string; metric?: string; window?: string } }>(
    '/api/series',
    async (req, reply) => {
      const { release, metric } = req.query;
      if (!release || !metric) return reply.code(400).send({ error: 'release and metric are required' });
      const windowSeconds = req.query.window === undefined ? undefined : Number(req.query.window);
      if (windowSeconds !== undefined && !(windowSeconds > 0 && windowSeconds <= 30 * 86400)) {
        return reply.code(400).send({ error: 'window must be seconds, at most 30 days' });
      }
      const snap = current ?? (await refresh());
      const series = await releaseSeries(options.telemetry, release, metric, { windowSeconds });
      const deployments = snap.deployments
        .filter((d) => d.artifactName === release)
        .map((d) => ({ id: d.id, name: d.name, status: d.status, created: d.created, finished: d.finished }));
      return { ...series, deployments };
    },
  );
  app.get<{ Params: { id: string } }>('/api/devices/:id', async (req, reply) => {
    const snap = current ?? (await refresh());
    const device = snap.devices.find((d) => d.id === req.params.id);
    if (!device) return reply.code(404).send({ error: 'no such device' });
    const telemetry = await options.telemetry.messages({ deviceIds: [device.id], limit: 200 });
    const deployments = [];
    if (device.menderId) {
      for (const dep of snap.deployments) {
        let devices: MenderDeploymentDevice[] | undefined = dep.devices.length
          ? dep.devices.map((d) => ({ id: d.menderId, status: d.status }))
          : finishedDevices.get(dep.id);
        if (devices === undefined) {
          devices = [];
          for await (const d of options.management.deployments.devices(dep.id, { perPage: 500 }))
            devices.push(d);
          if (dep.finished) finishedDevices.set(dep.id, devices);
        }
        const mine = devices.find((d) => d.id === device.menderId);
        if (mine) {
          deployments.push({
            id: dep.id,
            name: dep.name,
            artifactName: dep.artifactName,
            status: mine.status ?? '',
            created: dep.created,
            finished: dep.finished,
          });
        }
      }
    }
    return {
      device,
      deployments,
      telemetry: telemetry.map((t) => ({
        receivedAt: t.receivedAt,
        kind: t.kind,
        artifactName: t.artifactName,
        deploymentId: t.deploymentId,
        metrics: t.metrics,
      })),
    };
  });
  app.get<{ Querystring: { since?: string } }>('/api/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
    });
    res.write('retry: 2000\n\n');
    // A page that already holds the current snapshot (embedded in it) says so with `since`.
    if (currentEvent && req.query.since !== current?.generatedAt) res.write(currentEvent);
    streams.add(res);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(ping);
      streams.delete(res);
    });
  });

  await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  void loop();

  return {
    url: `http://${urlHost}:${port}`,
    snapshot: () => current,
    refresh,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const res of streams) res.end();
      streams.clear();
      await inflight?.catch(() => undefined);
      await app.close();
    },
  };
}
