import { BadRequestError, UnauthorizedError } from '@otakit/core';
import {
  openTelemetryStore,
  startTelemetryApi,
  TelemetryHttpClient,
  type TelemetryServer,
  type TelemetryStore,
} from '@otakit/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
const T0 = Date.parse('2026-06-01T12:00:00.000Z');

describe('telemetry read API and its client', () => {
  let store: TelemetryStore;
  let server: TelemetryServer;
  let client: TelemetryHttpClient;

  beforeEach(async () => {
    store = await openTelemetryStore(':memory:');
    await store.appendBatch(
      Array.from({ length: 12 }, (_, i) => ({
        id: `m-${i}`,
        deviceId: `d-${i % 3}`,
        registry: REGISTRY,
        kind: 'event' as const,
        receivedAt: T0 + i * 1000,
        artifactName: i < 6 ? 'release-1' : 'release-2',
        payload: { cpu: i / 10, __proto__x: 1 },
      })),
    );
    server = await startTelemetryApi({ store });
    client = new TelemetryHttpClient({ baseUrl: server.url, maxRetries: 0 });
  });
  afterEach(async () => {
    await client.close();
    await server.close();
    await store.close();
  });

  it('serves the latest message per device as the store answers it', async () => {
    const remote = await client.latest({ deviceIds: ['d-0', 'd-2'] });
    expect(remote).toEqual(await store.latest({ deviceIds: ['d-0', 'd-2'] }));
    expect(remote.map((r) => r.id)).toEqual(['m-9', 'm-11']);
  });

  it('serves per-release aggregates over a time window', async () => {
    const query = { metric: 'cpu', from: T0 + 2000, to: new Date(T0 + 10_000) };
    const remote = await client.releaseAggregates(query);
    expect(remote).toEqual(await store.releaseAggregates(query));
    expect(remote.map((r) => [r.release, r.count])).toEqual([
      ['release-1', 4],
      ['release-2', 4],
    ]);
  });

  it('serves the newest messages of a device', async () => {
    const remote = await client.messages({ deviceIds: ['d-1'], limit: 2 });
    expect(remote.map((r) => r.id)).toEqual(['m-10', 'm-7']);
  });

  it('answers a bad query with 400 and a typed error', async () => {
    await expect(client.releaseAggregates({ metric: '' })).rejects.toBeInstanceOf(BadRequestError);
    const res = await fetch(`${server.url}/v1/telemetry/latest?kind=config`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'ERR_TELEMETRY_INVALID' });
    expect((await fetch(`${server.url}/v1/telemetry/latest?from=soon`)).status).toBe(400);
    expect((await fetch(`${server.url}/v1/telemetry/latest?limit=-1`)).status).toBe(400);
  });

  it('requires the bearer token when one is set', async () => {
    await server.close();
    server = await startTelemetryApi({ store, token: 'reader' });
    const anonymous = new TelemetryHttpClient({ baseUrl: server.url, maxRetries: 0 });
    const reader = new TelemetryHttpClient({ baseUrl: server.url, auth: () => 'reader' });
    try {
      await expect(anonymous.latest()).rejects.toBeInstanceOf(UnauthorizedError);
      expect((await reader.latest()).length).toBe(3);
    } finally {
      await anonymous.close();
      await reader.close();
    }
  });
});
