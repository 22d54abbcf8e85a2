import { describe, expect, it } from 'vitest';
import {
  AbortError,
  ApiError,
  apiErrorFromResponse,
  BadRequestError,
  ConflictError,
  ConnectionError,
  ErrorCodes,
  ForbiddenError,
  InvalidResponseError,
  isMenderErrorBody,
  NotFoundError,
  OtakitError,
  PayloadTooLargeError,
  PreconditionFailedError,
  RateLimitError,
  ServerError,
  TimeoutError,
  UnauthorizedError,
} from '../src/errors.js';
import { parseRetryAfter } from '../src/http/retry-after.js';

const base = { method: 'GET', url: 'https://u:p@mender.test/api/x?token=t' };

describe('apiErrorFromResponse', () => {
  it.each([
    [400, BadRequestError],
    [401, UnauthorizedError],
    [403, ForbiddenError],
    [404, NotFoundError],
    [409, ConflictError],
    [412, PreconditionFailedError],
    [413, PayloadTooLargeError],
    [429, RateLimitError],
    [500, ServerError],
    [502, ServerError],
    [599, ServerError],
    [405, ApiError],
    [422, ApiError],
  ] as const)('maps %i to %s, with the static and instance code agreeing', (status, ErrorClass) => {
    const err = apiErrorFromResponse({ ...base, status });
    expect(err.constructor).toBe(ErrorClass);
    expect(err.code).toBe(ErrorClass.code);
    expect(err.name).toBe(ErrorClass.name);
    expect(err.url).toBe('https://REDACTED@mender.test/api/x?token=REDACTED');
  });

  it('reads the request id from the header, else the body, and Retry-After into retryAfterMs', () => {
    const fromHeader = apiErrorFromResponse({
      ...base,
      status: 429,
      headers: { 'x-men-requestid': 'h', 'retry-after': '3' },
      body: { error: 'slow down', request_id: 'b' },
    }) as RateLimitError;
    expect(fromHeader.requestId).toBe('h');
    expect(fromHeader.retryAfterMs).toBe(3000);
    expect(fromHeader.serverMessage).toBe('slow down');
    const fromBody = apiErrorFromResponse({
      ...base,
      status: 503,
      body: { error: 'service unavailable', request_id: 'b' },
    });
    expect(fromBody.requestId).toBe('b');
    expect((fromBody as ServerError).retryAfterMs).toBeUndefined();
  });

  it('keeps non-Mender bodies as they are and puts only a short excerpt of text in the message', () => {
    const html = `<html>${'x'.repeat(1000)}</html>`;
    const err = apiErrorFromResponse({ ...base, status: 502, body: html });
    expect(err.body).toBe(html);
    expect(err.serverMessage).toBeUndefined();
    expect(err.message.length).toBeLessThan(400);
    const json = apiErrorFromResponse({ ...base, status: 400, body: { message: 'not mender shaped' } });
    expect(json.serverMessage).toBeUndefined();
    expect(json.body).toEqual({ message: 'not mender shaped' });
  });
});

describe('error classes', () => {
  it('recognises a Mender error body', () => {
    expect(isMenderErrorBody({ error: 'x' })).toBe(true);
    expect(isMenderErrorBody({ error: 'x', request_id: 'r', metadata: {} })).toBe(true);
    expect(isMenderErrorBody({ error: 1 })).toBe(false);
    expect(isMenderErrorBody({ error: 'x', request_id: 5 })).toBe(false);
    expect(isMenderErrorBody('error')).toBe(false);
    expect(isMenderErrorBody(null)).toBe(false);
  });

  it('has one distinct ERR_ code per class', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ERR_[A-Z_]+$/);
  });

  it('keeps instanceof precise along the hierarchy', () => {
    const notFound = new NotFoundError({ ...base, status: 404 });
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toBeInstanceOf(ApiError);
    expect(notFound).toBeInstanceOf(OtakitError);
    expect(notFound).toBeInstanceOf(Error);
    expect(notFound).not.toBeInstanceOf(ConflictError);
    expect(new ApiError({ ...base, status: 404 })).not.toBeInstanceOf(NotFoundError);
    expect(new Error('x')).not.toBeInstanceOf(OtakitError);
    expect({ code: 'ERR_HTTP' }).not.toBeInstanceOf(ApiError);
  });

  it('builds transport errors with redacted urls and their cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const conn = new ConnectionError({ ...base, cause, requestId: 'r' });
    expect(conn.code).toBe('ERR_CONNECTION');
    expect(conn.cause).toBe(cause);
    expect(conn.message).toContain('ECONNREFUSED');
    expect(conn.message).not.toContain('token=t');
    const proxy = new ConnectionError({
      ...base,
      cause: new Error('bad proxy http://user:pw@proxy.test:3128/'),
    });
    expect(proxy.message).toContain('http://REDACTED@proxy.test:3128/');
    const timeout = new TimeoutError({ ...base, timeoutMs: 5 });
    expect(timeout.code).toBe('ERR_TIMEOUT');
    expect(timeout).not.toBeInstanceOf(ConnectionError);
    const abort = new AbortError();
    expect([abort.code, abort.name]).toEqual(['ERR_ABORTED', 'AbortError']);
    const invalid = new InvalidResponseError({
      ...base,
      status: 200,
      reason: 'a body that is not valid JSON',
    });
    expect(invalid.message).toContain('not valid JSON');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['0', 0],
    ['17', 17_000],
    [' 5 ', 5000],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['', undefined],
    ['2026-01-01', undefined],
  ])('parses %j as %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  it('reads the first of repeated headers and tolerates absence', () => {
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
