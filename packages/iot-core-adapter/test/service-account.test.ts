import { generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IotCoreError, serviceAccountAuth } from '../src/index.js';

describe('serviceAccountAuth', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = {
    client_email: 'iot-sync@my-project.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    private_key_id: 'abc123',
  };

  it('mints a self-signed RS256 token for the IoT Core API and reuses it until near expiry', async () => {
    let clock = new Date('2026-05-01T10:00:00Z');
    const auth = serviceAccountAuth(key, { now: () => clock });
    const token = await auth();
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'JWT',
      kid: 'abc123',
    });
    const iat = Math.floor(clock.getTime() / 1000);
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({
      iss: key.client_email,
      sub: key.client_email,
      aud: 'https://cloudiot.googleapis.com/',
      iat,
      exp: iat + 3600,
    });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'))).toBe(true);
    clock = new Date(clock.getTime() + 3000_000);
    expect(await auth()).toBe(token);
    clock = new Date(clock.getTime() + 550_000);
    expect(await auth()).not.toBe(token);
  });

  it('refuses incomplete keys and lifetimes over an hour', () => {
    expect(() => serviceAccountAuth({ client_email: 'x', private_key: 'nope' })).toThrow(IotCoreError);
    expect(() => serviceAccountAuth(key, { ttlSeconds: 7200 })).toThrow(
      expect.objectContaining({ code: 'ERR_IOTCORE_OPTIONS' }),
    );
  });
});
