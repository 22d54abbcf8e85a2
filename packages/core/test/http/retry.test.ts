import { Readable } from 'node:stream';
import type { MockAgent } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, BadRequestError, ConnectionError, RateLimitError, ServerError } from '../../src/errors.js';
import type { HttpEvents } from '../../src/http/types.js';
import { mockClient, mockServer, recordingLogger } from './helpers.js';

type RetryEvent = Parameters<HttpEvents['retry']>[0];

describe('HttpClient retries', () => {
  let agent: MockAgent | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await agent?.close();
    agent = undefined;
  });

  function setup(options: Parameters<typeof mockClient>[1] = {}) {
    const server = mockServer();
    agent = server.agent;
    const client = mockClient(server.agent, options);
    const retries: RetryEvent[] = [];
    client.events.on('retry', (e) => retries.push(e));
    return { pool: server.pool, client, retries };
  }

  it.each([408, 429, 502, 503, 504])(
    'retries a GET answered with %i and returns the next success',
    async (status) => {
      const { pool, client, retries } = setup();
      pool.intercept({ path: '/r', method: 'GET' }).reply(status, { error: 'busy' });
      pool.intercept({ path: '/r', method: 'GET' }).reply(200, { ok: true });
      const res = await client.request({ method: 'GET', path: '/r' });
      expect(res.data).toEqual({ ok: true });
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ method: 'GET', attempt: 1, status, reason: `HTTP ${status}` });
    },
  );

  it.each(['PUT', 'DELETE', 'HEAD'] as const)('retries the idempotent %s', async (method) => {
    const { pool, client, retries } = setup();
    pool.intercept({ path: '/r', method }).reply(503, '');
    pool.intercept({ path: '/r', method }).reply(204, '');
    const res = await client.request({ method, path: '/r', responseType: 'void' });
    expect(res.status).toBe(204);
    expect(retries).toHaveLength(1);
  });

  it.each([
    ['POST', 503, ServerError],
    ['PATCH', 429, RateLimitError],
    ['POST', 400, BadRequestError],
    ['POST', 500, ServerError],
    ['GET', 500, ServerError],
    ['GET', 400, BadRequestError],
  ] as const)('does not retry %s answered with %i', async (method, status, ErrorClass) => {
    const { pool, client, retries } = setup();
    let calls = 0;
    pool
      .intercept({ path: '/r', method })
      .reply(() => {
        calls++;
        return { statusCode: status, data: { error: 'no' } };
      })
      .persist();
    await expect(
      client.request({ method, path: '/r', json: method === 'GET' ? undefined : {} }),
    ).rejects.toBeInstanceOf(ErrorClass);
    expect(calls).toBe(1);
    expect(retries).toHaveLength(0);
  });

  it('retries a POST that carries an idempotency key, with the same key and request id each time', async () => {
    const { pool, client, retries } = setup();
    const seen: Array<Record<string, string>> = [];
    pool
      .intercept({ path: '/deployments', method: 'POST' })
      .reply((opts) => {
        seen.push(opts.headers as Record<string, string>);
        return seen.length < 3 ? { statusCode: 502, data: '' } : { statusCode: 201, data: { id: 'x' } };
      })
      .persist();
    const res = await client.request({
      method: 'POST',
      path: '/deployments',
      json: {},
      idempotencyKey: 'k-1',
    });
    expect(res.status).toBe(201);
    expect(seen).toHaveLength(3);
    expect(seen.map((h) => h['idempotency-key'])).toEqual(['k-1', 'k-1', 'k-1']);
    expect(new Set(seen.map((h) => h['x-men-requestid'])).size).toBe(1);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('retries a GET after a network error, and fails a POST at once with ConnectionError', async () => {
    const { pool, client, retries } = setup();
    pool.intercept({ path: '/n', method: 'GET' }).replyWithError(new Error('socket hang up'));
    pool.intercept({ path: '/n', method: 'GET' }).reply(200, { ok: 1 });
    expect((await client.request({ method: 'GET', path: '/n' })).data).toEqual({ ok: 1 });
    expect(retries[0]?.reason).toMatch(/^connection error/);

    pool.intercept({ path: '/p', method: 'POST' }).replyWithError(new Error('socket hang up'));
    const err = await client.request({ method: 'POST', path: '/p', json: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('ERR_CONNECTION');
    expect(retries).toHaveLength(1);
  });

  it('honours Retry-After in seconds, adding at most baseDelayMs of jitter', async () => {
    const { pool, client, retries } = setup({ retry: { baseDelayMs: 40 } });
    pool
      .intercept({ path: '/r', method: 'GET' })
      .reply(429, '', { headers: { 'retry-after': '1' } })
      .times(2);
    pool.intercept({ path: '/r', method: 'GET' }).reply(200, { ok: 1 });
    const random = vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValueOnce(1);
    await client.request({ method: 'GET', path: '/r' });
    expect(random).toHaveBeenCalledTimes(2);
    expect(retries).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 1000, status: 429, reason: 'HTTP 429' }),
      expect.objectContaining({ attempt: 2, delayMs: 1040, status: 429, reason: 'HTTP 429' }),
    ]);
  });

  it('throws a 503 at once when its Retry-After exceeds the cap, keeping retryAfterMs', async () => {
    const { pool, client, retries } = setup({ retry: { maxRetryAfterMs: 1000 } });
    pool.intercept({ path: '/r', method: 'GET' }).reply(
      503,
      { error: 'service unavailable' },
      {
        headers: { 'retry-after': '2' },
      },
    );
    const err = (await client.request({ method: 'GET', path: '/r' }).catch((e: unknown) => e)) as ServerError;
    expect(err).toBeInstanceOf(ServerError);
    expect(err.retryAfterMs).toBe(2000);
    expect(retries).toHaveLength(0);
  });

  it('emits a request event per attempt and keeps going when a listener throws', async () => {
    const logger = recordingLogger();
    const { pool, client } = setup({ logger });
    const attempts: number[] = [];
    client.events.on('request', (e) => {
      attempts.push(e.attempt);
      throw new Error('listener bug');
    });
    pool.intercept({ path: '/r', method: 'GET' }).reply(502, '');
    pool.intercept({ path: '/r', method: 'GET' }).reply(200, { ok: 1 });
    expect((await client.request({ method: 'GET', path: '/r' })).data).toEqual({ ok: 1 });
    expect(attempts).toEqual([1, 2]);
    expect(
      logger.lines.filter((l) => l.startsWith('error') && l.includes("'request' listener threw")),
    ).toHaveLength(2);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { pool, client, retries } = setup();
    const when = new Date(Date.now() + 2000).toUTCString();
    pool.intercept({ path: '/r', method: 'GET' }).reply(503, '', { headers: { 'retry-after': when } });
    pool.intercept({ path: '/r', method: 'GET' }).reply(200, { ok: 1 });
    await client.request({ method: 'GET', path: '/r' });
    expect(retries).toHaveLength(1);
    // An HTTP date has one-second resolution: the wait is what remains until that second.
    expect(retries[0]?.delayMs).toBeGreaterThan(0);
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(2000 + 1); // + up to baseDelayMs of jitter
  });

  it('throws RateLimitError with retryAfterMs at once when Retry-After exceeds the cap', async () => {
    const { pool, client, retries } = setup({ retry: { baseDelayMs: 1, maxRetryAfterMs: 5_000 } });
    let calls = 0;
    pool
      .intercept({ path: '/r', method: 'GET' })
      .reply(() => {
        calls++;
        return {
          statusCode: 429,
          data: { error: 'too many requests', request_id: 'rid-9' },
          responseOptions: { headers: { 'retry-after': '120' } },
        };
      })
      .persist();
    const err = await client.request({ method: 'GET', path: '/r' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(120_000);
    expect((err as RateLimitError).requestId).toBe('rid-9');
    expect((err as RateLimitError).code).toBe('ERR_HTTP_RATE_LIMITED');
    expect(calls).toBe(1);
    expect(retries).toHaveLength(0);
  });

  it('gives up after maxRetries with the last error, emitting one retry event per retry', async () => {
    const { pool, client, retries } = setup({ maxRetries: 3 });
    let calls = 0;
    pool
      .intercept({ path: '/r', method: 'GET' })
      .reply(() => {
        calls++;
        return { statusCode: 503, data: { error: 'service unavailable' } };
      })
      .persist();
    const err = await client.request({ method: 'GET', path: '/r' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).status).toBe(503);
    expect(calls).toBe(4);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
  });

  it('lets a call override maxRetries (0: a single attempt)', async () => {
    const { pool, client } = setup({ maxRetries: 5 });
    let calls = 0;
    pool
      .intercept({ path: '/r', method: 'GET' })
      .reply(() => {
        calls++;
        return { statusCode: 408, data: '' };
      })
      .persist();
    const err = await client.request({ method: 'GET', path: '/r', maxRetries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(408);
    expect(calls).toBe(1);
  });

  it('waits exponential backoff with full jitter, capped at maxDelayMs', async () => {
    const { pool, client, retries } = setup({ maxRetries: 4, retry: { baseDelayMs: 2, maxDelayMs: 5 } });
    pool.intercept({ path: '/r', method: 'GET' }).reply(503, '').times(4);
    pool.intercept({ path: '/r', method: 'GET' }).reply(200, {});
    const random = vi.spyOn(Math, 'random').mockReturnValue(1);
    await client.request({ method: 'GET', path: '/r' });
    expect(retries.map((r) => r.delayMs)).toEqual([2, 4, 5, 5]);

    retries.length = 0;
    random.mockReturnValue(0.5);
    pool.intercept({ path: '/r', method: 'GET' }).reply(503, '').times(2);
    pool.intercept({ path: '/r', method: 'GET' }).reply(200, {});
    await client.request({ method: 'GET', path: '/r' });
    expect(retries.map((r) => r.delayMs)).toEqual([1, 2]);
  });

  it('does not retry a one-shot stream body, but re-creates a factory body per attempt', async () => {
    const { pool, client } = setup();
    const received: string[] = [];
    pool
      .intercept({ path: '/up', method: 'PUT' })
      .reply((opts) => {
        received.push(String(opts.body));
        return { statusCode: 503, data: '' };
      })
      .times(1);
    const err = await client
      .request({ method: 'PUT', path: '/up', body: Readable.from([Buffer.from('once')]) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);

    pool.intercept({ path: '/up', method: 'PUT' }).reply(503, '');
    pool.intercept({ path: '/up', method: 'PUT' }).reply(200, {});
    let made = 0;
    const res = await client.request({
      method: 'PUT',
      path: '/up',
      body: () => {
        made++;
        return Readable.from([Buffer.from('again')]);
      },
    });
    expect(res.status).toBe(200);
    expect(made).toBe(2);
  });

  it('stops a backoff wait when the caller aborts, rejecting with the reason', async () => {
    const { pool, client, retries } = setup();
    pool.intercept({ path: '/r', method: 'GET' }).reply(429, '', { headers: { 'retry-after': '30' } });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    client.events.on('retry', () => controller.abort(reason));
    const err = await client
      .request({ method: 'GET', path: '/r', signal: controller.signal })
      .catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(30_000);
  });
});
