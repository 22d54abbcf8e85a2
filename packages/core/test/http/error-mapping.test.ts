import type { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  ApiError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  InvalidResponseError,
  NotFoundError,
  OtakitError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RateLimitError,
  ServerError,
  UnauthorizedError,
} from '../../src/errors.js';
import { ERROR_BODY_LIMIT } from '../../src/http/body.js';
import { mockClient, mockServer } from './helpers.js';

describe('HttpClient error mapping', () => {
  let agent: MockAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  function setup() {
    const server = mockServer();
    agent = server.agent;
    return { pool: server.pool, client: mockClient(server.agent, { maxRetries: 0 }) };
  }

  it.each([
    [400, BadRequestError, 'ERR_HTTP_BAD_REQUEST'],
    [401, UnauthorizedError, 'ERR_HTTP_UNAUTHORIZED'],
    [403, ForbiddenError, 'ERR_HTTP_FORBIDDEN'],
    [404, NotFoundError, 'ERR_HTTP_NOT_FOUND'],
    [409, ConflictError, 'ERR_HTTP_CONFLICT'],
    [412, PreconditionFailedError, 'ERR_HTTP_PRECONDITION_FAILED'],
    [413, PayloadTooLargeError, 'ERR_HTTP_PAYLOAD_TOO_LARGE'],
    [429, RateLimitError, 'ERR_HTTP_RATE_LIMITED'],
    [500, ServerError, 'ERR_HTTP_SERVER'],
    [503, ServerError, 'ERR_HTTP_SERVER'],
    [418, ApiError, 'ERR_HTTP'],
    [415, ApiError, 'ERR_HTTP'],
  ] as const)(
    'maps %i to %o with the Mender body, request id, method and url',
    async (status, ErrorClass, code) => {
      const { pool, client } = setup();
      pool.intercept({ path: '/api/management/v1/inventory/devices/abc', method: 'GET' }).reply(
        status,
        { error: `it failed with ${status}`, request_id: 'body-rid' },
        {
          headers: { 'x-men-requestid': 'hdr-rid' },
        },
      );
      const err = await client
        .request({ method: 'GET', path: '/api/management/v1/inventory/devices/abc' })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrorClass);
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toBeInstanceOf(OtakitError);
      const apiError = err as ApiError;
      expect(apiError.code).toBe(code);
      expect(apiError.status).toBe(status);
      expect(apiError.method).toBe('GET');
      expect(apiError.url).toBe('https://mender.test/api/management/v1/inventory/devices/abc');
      expect(apiError.requestId).toBe('hdr-rid');
      expect(apiError.body).toEqual({ error: `it failed with ${status}`, request_id: 'body-rid' });
      expect(apiError.serverMessage).toBe(`it failed with ${status}`);
      expect(apiError.message).toContain(`HTTP ${status}`);
      expect(apiError.message).toContain(`it failed with ${status}`);
      expect(apiError.message).toContain('hdr-rid');
    },
  );

  it("falls back to the body's request_id, then to the id that was sent", async () => {
    const { pool, client } = setup();
    pool.intercept({ path: '/a', method: 'GET' }).reply(404, { error: 'not found', request_id: 'from-body' });
    pool.intercept({ path: '/b', method: 'GET' }).reply(404, 'plain text, not json');
    const a = (await client.request({ method: 'GET', path: '/a' }).catch((e: unknown) => e)) as ApiError;
    expect(a.requestId).toBe('from-body');
    const b = (await client
      .request({ method: 'GET', path: '/b', requestId: 'sent-id' })
      .catch((e: unknown) => e)) as ApiError;
    expect(b.requestId).toBe('sent-id');
    expect(b.body).toBe('plain text, not json');
    expect(b.serverMessage).toBeUndefined();
  });

  it('reads at most ERROR_BODY_LIMIT bytes of an error body', async () => {
    const { pool, client } = setup();
    pool.intercept({ path: '/big', method: 'GET' }).reply(500, 'x'.repeat(ERROR_BODY_LIMIT * 4));
    const err = (await client
      .request({ method: 'GET', path: '/big' })
      .catch((e: unknown) => e)) as ServerError;
    expect(err).toBeInstanceOf(ServerError);
    expect(typeof err.body).toBe('string');
    expect((err.body as string).length).toBe(ERROR_BODY_LIMIT);
    expect(err.message.length).toBeLessThan(500);
  });

  it('carries retryAfterMs on a RateLimitError once retries are used up', async () => {
    const { pool, client } = setup();
    pool.intercept({ path: '/r', method: 'GET' }).reply(429, '', { headers: { 'retry-after': '7' } });
    const err = (await client
      .request({ method: 'GET', path: '/r' })
      .catch((e: unknown) => e)) as RateLimitError;
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.retryAfterMs).toBe(7000);
    expect(err.body).toBeUndefined();
  });

  it('rejects invalid JSON in a success body with InvalidResponseError, and gives undefined for an empty one', async () => {
    const { pool, client } = setup();
    pool
      .intercept({ path: '/bad', method: 'GET' })
      .reply(200, '{"truncated":', { headers: { 'x-men-requestid': 'r1' } });
    pool.intercept({ path: '/empty', method: 'GET' }).reply(200, '');
    const err = (await client
      .request({ method: 'GET', path: '/bad' })
      .catch((e: unknown) => e)) as InvalidResponseError;
    expect(err).toBeInstanceOf(InvalidResponseError);
    expect(err.code).toBe('ERR_INVALID_RESPONSE');
    expect(err.status).toBe(200);
    expect(err.requestId).toBe('r1');
    expect(err.cause).toBeInstanceOf(SyntaxError);
    expect((await client.request({ method: 'GET', path: '/empty' })).data).toBeUndefined();
  });

  it('rejects an already-aborted call without a reason with AbortError, and with the reason when given', async () => {
    const { client } = setup();
    const plain = new AbortController();
    plain.abort();
    const err = await client
      .request({ method: 'GET', path: '/x', signal: plain.signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).code).toBe('ERR_ABORTED');
    expect((err as AbortError).name).toBe('AbortError');

    const withReason = new AbortController();
    const reason = new Error('user cancelled');
    withReason.abort(reason);
    await expect(client.request({ method: 'GET', path: '/x', signal: withReason.signal })).rejects.toBe(
      reason,
    );
  });
});
