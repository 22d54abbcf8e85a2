import fc from 'fast-check';
import type { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiError, ConnectionError, ForbiddenError, TimeoutError } from '../../src/errors.js';
import { redactUrl } from '../../src/http/redact.js';
import { mockClient, mockServer, recordingLogger } from './helpers.js';

const TOKEN = 'eyJTOKEN.SECRETPAYLOAD.SIG';

describe('redactUrl', () => {
  it.each([
    [
      'https://s3.test/b/k?X-Amz-Signature=abc123&X-Amz-Expires=900',
      'https://s3.test/b/k?X-Amz-Signature=REDACTED&X-Amz-Expires=900',
    ],
    [
      '/api/devices/v1/deployments/download/configuration/d/t/i?x-men-expire=2026-01-01T00%3A00%3A00Z&x-men-signature=c2ln&tenant_id=t1',
      '/api/devices/v1/deployments/download/configuration/d/t/i?x-men-expire=2026-01-01T00%3A00%3A00Z&x-men-signature=REDACTED&tenant_id=t1',
    ],
    ['https://user:pa%40ss@h.test:8443/p?a=1', 'https://REDACTED@h.test:8443/p?a=1'],
    ['https://blob.test/c/f?sv=2021&sig=zzz&se=x', 'https://blob.test/c/f?sv=2021&sig=REDACTED&se=x'],
    [
      'https://h.test/p?Token=t&access_token=u&page=2#frag',
      'https://h.test/p?Token=REDACTED&access_token=REDACTED&page=2',
    ],
    ['https://h.test/p?signature', 'https://h.test/p?signature'],
    ['https://h.test/a@b/c', 'https://h.test/a@b/c'],
    ['https:\\\\me:pw@h.test\\x?sig=1', 'https://REDACTED@h.test/x?sig=REDACTED'],
    ['//me:pw@h.test/x', '//REDACTED@h.test/x'],
    ['/relative/path?X-Amz-Credential=AKIA/2026', '/relative/path?X-Amz-Credential=REDACTED'],
  ])('redacts %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('accepts a URL object', () => {
    expect(redactUrl(new URL('https://u:p@h.test/?signature=s'))).toBe(
      'https://REDACTED@h.test/?signature=REDACTED',
    );
  });

  it('never lets a secret query value or userinfo through, whatever surrounds it', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9%_.~-]{1,40}$/).map((s) => `S3CR3T${s}`);
    const name = fc.constantFrom(
      'x-men-signature',
      'Signature',
      'token',
      'X-Amz-Signature',
      'X-Amz-Credential',
      'sig',
    );
    const other = fc.array(
      fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/)),
      {
        maxLength: 4,
      },
    );
    fc.assert(
      fc.property(secret, secret, name, other, other, (value, password, key, before, after) => {
        const query = [
          ...before.map(([k, v]) => `${k}=${v}`),
          `${key}=${value}`,
          ...after.map(([k, v]) => `${k}=${v}`),
        ];
        const out = redactUrl(`https://me:${password}@h.test/path?${query.join('&')}`);
        expect(out).not.toContain('S3CR3T');
      }),
    );
  });
});

describe('HttpClient keeps secrets out of logs, events and errors', () => {
  let agent: MockAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  it('never writes the bearer token or signed-URL secrets anywhere observable', async () => {
    const server = mockServer();
    agent = server.agent;
    const logger = recordingLogger();
    const client = mockClient(server.agent, { auth: () => TOKEN, logger, maxRetries: 1 });
    const seen: unknown[] = [];
    client.events.on('request', (e) => seen.push(e));
    client.events.on('response', (e) => seen.push(e));
    client.events.on('retry', (e) => seen.push(e));

    const signed = '/api/devices/v1/download?x-men-expire=1&x-men-signature=SIGSECRET';
    server.pool.intercept({ path: signed, method: 'GET' }).reply(503, '');
    server.pool.intercept({ path: signed, method: 'GET' }).reply(403, { error: 'signature expired' });
    server.pool.intercept({ path: '/boom', method: 'POST' }).replyWithError(new Error('ECONNRESET'));

    const forbidden = await client.request({ method: 'GET', path: signed }).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    const connection = await client
      .request({ method: 'POST', path: 'https://user:PWSECRET@mender.test/boom', json: {} })
      .catch((e: unknown) => e);
    expect(connection).toBeInstanceOf(ConnectionError);

    const everything = [
      ...logger.lines,
      ...seen.map((e) => JSON.stringify(e)),
      ...[forbidden, connection].map((e) => `${String(e)} ${JSON.stringify(e)} ${(e as Error).stack}`),
      (forbidden as ApiError).url,
      (connection as ConnectionError).url,
    ].join('\n');
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(logger.lines.length).toBeGreaterThanOrEqual(5);
    expect(everything).toContain('x-men-signature=REDACTED');
    expect(everything).not.toContain('SIGSECRET');
    expect(everything).not.toContain('PWSECRET');
    expect(everything).not.toContain('SECRETPAYLOAD');
    expect(everything.toLowerCase()).not.toContain('bearer');
  });

  it('redacts the url of a TimeoutError', () => {
    const err = new TimeoutError({ method: 'GET', url: 'https://h.test/x?token=TSECRET', timeoutMs: 5 });
    expect(err.message).not.toContain('TSECRET');
    expect(err.url).toBe('https://h.test/x?token=REDACTED');
  });
});
