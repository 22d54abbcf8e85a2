import {
  openTelemetryStore,
  startPushIngest,
  type TelemetryServer,
  type TelemetryStore,
} from '@otakit/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** A push delivery as a Pub/Sub push subscription sends it for Cloud IoT Core telemetry. */
function delivery(
  data: string | Buffer,
  over: { messageId?: string; attributes?: Record<string, string> } = {},
) {
  return {
    message: {
      attributes: {
        deviceId: 'pi-7',
        deviceNumId: '2808946627307959',
        deviceRegistryId: 'fleet',
        deviceRegistryLocation: 'europe-west1',
        projectId: 'demo',
        subFolder: 'metrics',
        ...over.attributes,
      },
      data: Buffer.from(data).toString('base64'),
      messageId: over.messageId ?? '136969346945',
      publishTime: '2026-06-01T12:00:00.123Z',
    },
    subscription: 'projects/demo/subscriptions/telemetry-push',
  };
}

describe('Pub/Sub push ingest', () => {
  let store: TelemetryStore;
  let server: TelemetryServer;
  const post = (body: unknown, query = '', headers: Record<string, string> = {}) =>
    fetch(`${server.url}/${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeEach(async () => {
    store = await openTelemetryStore(':memory:');
    server = await startPushIngest({ store, bodyLimit: 4096 });
  });
  afterEach(async () => {
    await server.close();
    await store.close();
  });

  it('answers 204 once the delivery is stored, as IoT Core telemetry of its device and registry', async () => {
    const res = await post(delivery('{"artifact_name":"release-1","cpu":0.7}'));
    expect(res.status).toBe(204);
    const [row] = await store.latest();
    expect(row).toMatchObject({
      id: 'pubsub:event:136969346945',
      deviceId: 'pi-7',
      registry: 'projects/demo/locations/europe-west1/registries/fleet',
      kind: 'event',
      subfolder: 'metrics',
      receivedAt: '2026-06-01T12:00:00.123Z',
      artifactName: 'release-1',
      payload: { artifact_name: 'release-1', cpu: 0.7 },
      metrics: { cpu: 0.7 },
    });
  });

  it('stores a redelivered message once', async () => {
    expect((await post(delivery('{"cpu":1}'))).status).toBe(204);
    expect((await post(delivery('{"cpu":1}'))).status).toBe(204);
    expect((await post(delivery('{"cpu":2}', { messageId: '2' }))).status).toBe(204);
    expect(await store.count()).toBe(2);
  });

  it('stores deliveries of a state topic as state, and a payload that is not JSON raw', async () => {
    expect((await post(delivery('not json {'), '?kind=state')).status).toBe(204);
    const [row] = await store.latest();
    expect(row).toMatchObject({
      kind: 'state',
      payload: null,
      payloadRaw: 'not json {',
      payloadEncoding: 'utf8',
    });
  });

  it('refuses a delivery it cannot store with a 4xx and stores nothing', async () => {
    const noDevice = delivery('{}', { attributes: { deviceId: '' } });
    const notBase64 = { message: { ...delivery('{}').message, data: '***' } };
    const noId = { message: { ...delivery('{}').message, messageId: undefined } };
    for (const body of [noDevice, notBase64, noId, { nope: 1 }, '{"message":']) {
      const res = await post(body);
      expect(res.status).toBe(400);
    }
    expect((await post(delivery('{}'), '?kind=config')).status).toBe(400);
    expect((await post(delivery('x'.repeat(5000)))).status).toBe(413);
    expect(await store.count()).toBe(0);
  });

  it('answers 503 when the store cannot take the message, so Pub/Sub delivers it again', async () => {
    await store.close();
    const res = await post(delivery('{"cpu":1}'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ code: 'ERR_TELEMETRY_CLOSED' });
  });

  it('requires the push token when one is set', async () => {
    await server.close();
    server = await startPushIngest({ store, token: 's3cret' });
    expect((await post(delivery('{}'))).status).toBe(401);
    expect((await post(delivery('{}'), '?token=wrong')).status).toBe(401);
    expect((await post(delivery('{}'), '?token=s3cret')).status).toBe(204);
    expect(await store.count()).toBe(1);
  });
});
