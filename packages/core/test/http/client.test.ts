import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/http/client.js';
import { mockClient, mockServer } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('HttpClient requests', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('sends JSON, a fresh X-MEN-RequestID and the bearer token, and parses the JSON answer', async () => {
    const { agent, pool } = mockServer();
    close = () => agent.close();
    let seen: Record<string, string> = {};
    let sentBody = '';
    pool.intercept({ path: '/api/management/v1/deployments/deployments', method: 'POST' }).reply((opts) => {
      seen = opts.headers as Record<string, string>;
      sentBody = String(opts.body);
      return {
        statusCode: 201,
        data: { id: 'd1' },
        responseOptions: { headers: { 'x-men-requestid': 'srv-1' } },
      };
    });
    const client = mockClient(agent, { auth: () => 'tok-123' });
    const res = await client.request<{ id: string }>({
      method: 'POST',
      path: '/api/management/v1/deployments/deployments',
      json: { name: 'x' },
    });
    expect(res.status).toBe(201);
    expect(res.data).toEqual({ id: 'd1' });
    expect(res.requestId).toBe('srv-1');
    expect(JSON.parse(sentBody)).toEqual({ name: 'x' });
    expect(seen['content-type']).toBe('application/json');
    expect(seen.authorization).toBe('Bearer tok-123');
    expect(seen['x-men-requestid']).toMatch(UUID);
  });

  it('uses a fresh request id per call and the given one when set', async () => {
    const { agent, pool } = mockServer();
    close = () => agent.close();
    const ids: string[] = [];
    pool
      .intercept({ path: '/x', method: 'GET' })
      .reply((opts) => {
        ids.push((opts.headers as Record<string, string>)['x-men-requestid'] ?? '');
        return { statusCode: 204, data: '' };
      })
      .times(4);
    const client = mockClient(agent);
    const a = await client.request({ method: 'GET', path: '/x' });
    await client.request({ method: 'GET', path: '/x' });
    const c = await client.request({ method: 'GET', path: '/x', requestId: 'mine' });
    await client.request({ method: 'GET', path: '/x', headers: { 'X-MEN-RequestID': 'from-header' } });
    expect(ids[0]).toMatch(UUID);
    expect(ids[1]).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[2]).toBe('mine');
    expect(ids[3]).toBe('from-header');
    expect(a.data).toBeUndefined();
    expect(a.requestId).toBe(ids[0]);
    expect(c.requestId).toBe('mine');
  });

  it('reads an application/jwt body as text', async () => {
    const { agent, pool } = mockServer();
    close = () => agent.close();
    pool
      .intercept({ path: '/api/devices/v1/authentication/auth_requests', method: 'POST' })
      .reply(200, 'eyJhbGciOi.eyJzdWIi.sig', { headers: { 'content-type': 'application/jwt' } });
    const client = mockClient(agent);
    const res = await client.request<string>({
      method: 'POST',
      path: '/api/devices/v1/authentication/auth_requests',
      body: '{"id_data":"{}"}',
      contentType: 'application/json',
      responseType: 'text',
    });
    expect(res.data).toBe('eyJhbGciOi.eyJzdWIi.sig');
  });

  it('keeps a base path prefix and appends query values, repeating arrays and skipping undefined', async () => {
    const client = new HttpClient({ baseUrl: 'https://h.test/mender/', dispatcher: mockServer().agent });
    expect(client.resolveUrl('/api/x', { a: 1, b: ['p', 'q'], c: undefined, d: null, e: true })).toBe(
      'https://h.test/mender/api/x?a=1&b=p&b=q&e=true',
    );
    expect(client.resolveUrl('api/x?z=1', { a: 'b c' })).toBe('https://h.test/mender/api/x?z=1&a=b+c');
    expect(client.resolveUrl('https://other.test/p?q=1')).toBe('https://other.test/p?q=1');
  });

  it('does not send the bearer token to another origin or when auth is false', async () => {
    const { agent, pool } = mockServer();
    close = () => agent.close();
    const other = agent.get('https://s3.test');
    const auths: Array<string | undefined> = [];
    const capture = (opts: { headers?: unknown }) => {
      auths.push((opts.headers as Record<string, string>).authorization);
      return { statusCode: 200, data: 'ok' };
    };
    other.intercept({ path: '/bucket/a', method: 'GET' }).reply(capture);
    pool.intercept({ path: '/signed', method: 'GET' }).reply(capture);
    const client = mockClient(agent, { auth: () => 'tok' });
    await client.request({ method: 'GET', path: 'https://s3.test/bucket/a', responseType: 'text' });
    await client.request({ method: 'GET', path: '/signed', auth: false, responseType: 'text' });
    expect(auths).toEqual([undefined, undefined]);
  });

  it('returns binary bodies as a Buffer and drains void bodies', async () => {
    const { agent, pool } = mockServer();
    close = () => agent.close();
    pool.intercept({ path: '/bin', method: 'GET' }).reply(200, Buffer.from([0, 255, 1]));
    pool.intercept({ path: '/void', method: 'DELETE' }).reply(200, 'ignored');
    const client = mockClient(agent);
    const bin = await client.request<Buffer>({ method: 'GET', path: '/bin', responseType: 'buffer' });
    expect([...bin.data]).toEqual([0, 255, 1]);
    const v = await client.request({ method: 'DELETE', path: '/void', responseType: 'void' });
    expect(v.data).toBeUndefined();
  });
});

describe('HttpClient.close', () => {
  it('leaves an injected dispatcher open for its owner', async () => {
    const { agent, pool } = mockServer();
    pool.intercept({ path: '/a', method: 'GET' }).reply(200, { n: 1 }).times(2);
    const first = mockClient(agent);
    await first.request({ method: 'GET', path: '/a' });
    await first.close();
    const second = mockClient(agent);
    expect((await second.request({ method: 'GET', path: '/a' })).data).toEqual({ n: 1 });
    await agent.close();
  });

  it('closes the dispatcher it built, after which calls fail at once without retrying', async () => {
    const client = new HttpClient({ baseUrl: 'http://127.0.0.1:9', maxRetries: 3 });
    const retries: unknown[] = [];
    client.events.on('retry', (e) => retries.push(e));
    await client.close();
    const err = await client.request({ method: 'GET', path: '/' }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UND_ERR_DESTROYED');
    expect(retries).toHaveLength(0);
  });
});
