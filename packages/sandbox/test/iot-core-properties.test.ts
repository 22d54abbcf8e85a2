import { generateKeyPairSync } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IotCoreSandbox, startIotCoreSandbox } from '../src/index.js';
import { verifyDeviceJwt } from '../src/iot-core/keys.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const creds = [{ format: 'ES256_PEM', key: ec.publicKey, expiresAtMs: 0 }];
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('IoT Core sandbox parsers (properties)', () => {
  it('verifyDeviceJwt refuses any string that is not a signed JWT, without throwing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (token) => {
        expect((await verifyDeviceJwt(token, creds, 'p', Date.now())).ok).toBe(false);
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue(),
        fc.jsonValue(),
        fc.uint8Array({ maxLength: 80 }),
        async (header, claims, sig) => {
          const token = `${b64(header)}.${b64(claims)}.${Buffer.from(sig).toString('base64url')}`;
          expect((await verifyDeviceJwt(token, creds, 'p', Date.now())).ok).toBe(false);
        },
      ),
    );
  });

  describe('MQTT bridge', () => {
    let iot: IotCoreSandbox;
    beforeAll(async () => {
      iot = await startIotCoreSandbox({ port: 0 });
    });
    afterAll(() => iot?.close());

    const send = async (bytes: Uint8Array): Promise<void> => {
      const { hostname, port } = new URL(iot.mqttUrl ?? '');
      const socket = netConnect(Number(port), hostname);
      socket.on('error', () => {});
      socket.resume();
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.end(bytes);
      await new Promise((resolve) => socket.once('close', resolve));
    };

    it('survives arbitrary bytes and keeps serving', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 200 }),
          fc.integer({ min: 0, max: 15 }),
          async (bytes, type) => {
            await send(Buffer.concat([Buffer.from([type << 4]), bytes]));
          },
        ),
        { numRuns: 60 },
      );
      const res = await fetch(
        `${iot.url}/v1/projects/otakit-sandbox/locations/us-central1/registries/devices/devices`,
        {
          headers: { authorization: `Bearer ${iot.adminToken}` },
        },
      );
      expect(res.status).toBe(200);
      await send(Buffer.from([0xc0, 0]));
    });
  });
});
