import { describe, expect, it } from 'vitest';
import type { Res } from './helpers.js';
import { expectSpec, templateOf } from './spec.js';

const fake = (status: number, body: unknown, contentType = 'application/json'): Res => {
  const text = body === undefined ? '' : JSON.stringify(body);
  return {
    status,
    headers: { 'content-type': contentType },
    text,
    body: Buffer.from(text),
    json: () => JSON.parse(text),
  };
};

describe('the spec harness', () => {
  it('maps concrete paths to the most specific spec template', () => {
    expect(templateOf('GET', '/api/management/v2/devauth/devices/abc')).toBe(
      '/api/management/v2/devauth/devices/{id}',
    );
    expect(templateOf('GET', '/api/management/v2/devauth/devices/count')).toBe(
      '/api/management/v2/devauth/devices/count',
    );
    expect(templateOf('GET', '/api/management/v1/deployments/deployments/releases')).toBe(
      '/api/management/v1/deployments/deployments/releases',
    );
  });

  it('rejects a body that breaks the schema', () => {
    expect(() =>
      expectSpec(fake(200, { count: 'many' }), 'GET', '/api/management/v2/devauth/devices/count'),
    ).toThrow();
    expect(() =>
      expectSpec(fake(404, { message: 'x' }), 'GET', '/api/management/v2/devauth/devices/x'),
    ).toThrow();
  });

  it('rejects an undocumented status unless the deviation is declared', () => {
    expect(() =>
      expectSpec(fake(418, { error: 'x' }), 'GET', '/api/management/v2/devauth/devices/count'),
    ).toThrow();
    expect(() =>
      expectSpec(fake(418, { error: 'x' }), 'GET', '/api/management/v2/devauth/devices/count', {
        reason: 'test',
      }),
    ).not.toThrow();
  });

  it('accepts a conforming body', () => {
    expect(() =>
      expectSpec(fake(200, { count: 3 }), 'GET', '/api/management/v2/devauth/devices/count'),
    ).not.toThrow();
  });
});
