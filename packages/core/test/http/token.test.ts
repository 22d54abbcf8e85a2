import { Readable } from 'node:stream';
import type { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../src/errors.js';
import { RefreshingToken, type TokenSource } from '../../src/http/token.js';
import { mockClient, mockServer } from './helpers.js';

describe('RefreshingToken', () => {
  it('obtains once for concurrent first uses and caches the token', async () => {
    let calls = 0;
    const source = new RefreshingToken({ obtain: async () => `t${++calls}` });
    const tokens = await Promise.all([source.token(), source.token(), source.token()]);
    expect(tokens).toEqual(['t1', 't1', 't1']);
    expect(await source.token()).toBe('t1');
    expect(calls).toBe(1);
  });

  it('shares one refresh among callers that saw the same refused token', async () => {
    let calls = 0;
    const source = new RefreshingToken({ initial: 'old', obtain: async () => `new${++calls}` });
    const fresh = await Promise.all([source.refresh('old'), source.refresh('old'), source.refresh('old')]);
    expect(fresh).toEqual(['new1', 'new1', 'new1']);
    // A caller whose refused token is older than the current one gets the current one, no new login.
    expect(await source.refresh('old')).toBe('new1');
    expect(calls).toBe(1);
  });

  it('does not cache a failed obtain: the next call tries again', async () => {
    let calls = 0;
    const source = new RefreshingToken({
      obtain: async () => {
        calls++;
        if (calls === 1) throw new Error('login down');
        return 'ok';
      },
    });
    await expect(source.token()).rejects.toThrow('login down');
    expect(await source.token()).toBe('ok');
  });

  it('renews a token whose renewAt has passed before handing it out, and keeps one that is not due', async () => {
    let calls = 0;
    const due = new RefreshingToken({
      obtain: async () => ({ token: `due${++calls}`, renewAt: Date.now() - 1 }),
    });
    expect(await due.token()).toBe('due1');
    // Concurrent callers that find the token due share one renewal.
    expect(await Promise.all([due.token(), due.token()])).toEqual(['due2', 'due2']);
    expect(calls).toBe(2);
    let fresh = 0;
    const later = new RefreshingToken({
      obtain: async () => ({ token: `later${++fresh}`, renewAt: Date.now() + 3_600_000 }),
    });
    expect(await later.token()).toBe('later1');
    expect(await later.token()).toBe('later1');
    expect(later.current).toBe('later1');
    expect(fresh).toBe(1);
  });
});

describe('HttpClient with a TokenSource', () => {
  let agent: MockAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  function setup(auth: TokenSource) {
    const server = mockServer();
    agent = server.agent;
    return { pool: server.pool, client: mockClient(server.agent, { auth }) };
  }

  it('refreshes once on 401 and re-sends the call with the fresh token', async () => {
    let logins = 0;
    const { pool, client } = setup(
      new RefreshingToken({ initial: 'old', obtain: async () => `new${++logins}` }),
    );
    pool
      .intercept({ path: '/r', method: 'GET', headers: { authorization: 'Bearer old' } })
      .reply(401, { error: 'expired' });
    pool
      .intercept({ path: '/r', method: 'GET', headers: { authorization: 'Bearer new1' } })
      .reply(200, { ok: true });
    const res = await client.request({ method: 'GET', path: '/r' });
    expect(res.data).toEqual({ ok: true });
    expect(logins).toBe(1);
  });

  it('re-sends a POST once after a refresh (the refused call did nothing)', async () => {
    const { pool, client } = setup(new RefreshingToken({ initial: 'old', obtain: async () => 'new' }));
    pool
      .intercept({ path: '/p', method: 'POST', headers: { authorization: 'Bearer old' } })
      .reply(401, { error: 'expired' });
    pool
      .intercept({ path: '/p', method: 'POST', body: '{"a":1}', headers: { authorization: 'Bearer new' } })
      .reply(201, { id: 'x' });
    const res = await client.request({ method: 'POST', path: '/p', json: { a: 1 } });
    expect(res.status).toBe(201);
  });

  it('throws UnauthorizedError when the fresh token is refused too (one refresh only)', async () => {
    let logins = 0;
    const { pool, client } = setup(
      new RefreshingToken({ initial: 't0', obtain: async () => `t${++logins}` }),
    );
    pool.intercept({ path: '/r', method: 'GET' }).reply(401, { error: 'no' }).times(2);
    await expect(client.request({ method: 'GET', path: '/r' })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(logins).toBe(1);
  });

  it('shares one refresh among concurrent 401s', async () => {
    let logins = 0;
    const { pool, client } = setup(
      new RefreshingToken({ initial: 'old', obtain: async () => `new${++logins}` }),
    );
    pool
      .intercept({ path: '/r', method: 'GET', headers: { authorization: 'Bearer old' } })
      .reply(401, { error: 'expired' })
      .times(4);
    pool
      .intercept({ path: '/r', method: 'GET', headers: { authorization: 'Bearer new1' } })
      .reply(200, { ok: true })
      .times(4);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => client.request({ method: 'GET', path: '/r' })),
    );
    expect(results.map((r) => r.data)).toEqual(Array(4).fill({ ok: true }));
    expect(logins).toBe(1);
  });

  it('re-sends once after a refresh that re-issued the same token string (a re-registered token)', async () => {
    let logins = 0;
    const { pool, client } = setup(
      new RefreshingToken({
        initial: 'same',
        obtain: async () => {
          logins++;
          return 'same';
        },
      }),
    );
    pool.intercept({ path: '/r', method: 'GET' }).reply(401, { error: 'revoked' });
    pool
      .intercept({ path: '/r', method: 'GET', headers: { authorization: 'Bearer same' } })
      .reply(200, { ok: 1 });
    expect((await client.request({ method: 'GET', path: '/r' })).data).toEqual({ ok: 1 });
    expect(logins).toBe(1);
  });

  it('keeps the 401 when the source cannot refresh', async () => {
    const { pool, client } = setup({ token: () => 'static' });
    pool.intercept({ path: '/r', method: 'GET' }).reply(401, { error: 'no' });
    await expect(client.request({ method: 'GET', path: '/r' })).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('does not re-send a one-shot stream body or a call with auth: false', async () => {
    let logins = 0;
    const { pool, client } = setup(
      new RefreshingToken({ initial: 'old', obtain: async () => `new${++logins}` }),
    );
    pool.intercept({ path: '/up', method: 'PUT' }).reply(401, { error: 'no' });
    await expect(
      client.request({ method: 'PUT', path: '/up', body: Readable.from([Buffer.from('x')]) }),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    pool.intercept({ path: '/open', method: 'GET' }).reply(401, { error: 'no' });
    await expect(client.request({ method: 'GET', path: '/open', auth: false })).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(logins).toBe(0);
  });

  it('passes the call signal to the source when it has to fetch a token', async () => {
    const seen: Array<AbortSignal | undefined> = [];
    const { pool, client } = setup(
      new RefreshingToken({
        obtain: async (opts) => {
          seen.push(opts.signal);
          return 'tok';
        },
      }),
    );
    pool.intercept({ path: '/r', method: 'GET', headers: { authorization: 'Bearer tok' } }).reply(200, {});
    const controller = new AbortController();
    await client.request({ method: 'GET', path: '/r', signal: controller.signal });
    expect(seen).toEqual([controller.signal]);
  });

  it("uses a per-request source instead of the client's, with its one refresh on 401", async () => {
    let clientLogins = 0;
    let deviceAuths = 0;
    const { pool, client } = setup(new RefreshingToken({ obtain: async () => `user${++clientLogins}` }));
    const device = new RefreshingToken({ initial: 'dev0', obtain: async () => `dev${++deviceAuths}` });
    pool
      .intercept({ path: '/d', method: 'GET', headers: { authorization: 'Bearer dev0' } })
      .reply(401, { error: 'revoked' });
    pool
      .intercept({ path: '/d', method: 'GET', headers: { authorization: 'Bearer dev1' } })
      .reply(200, { ok: 'device' });
    pool
      .intercept({ path: '/m', method: 'GET', headers: { authorization: 'Bearer user1' } })
      .reply(200, { ok: 'user' });
    expect((await client.request({ method: 'GET', path: '/d', auth: device })).data).toEqual({
      ok: 'device',
    });
    expect((await client.request({ method: 'GET', path: '/m' })).data).toEqual({ ok: 'user' });
    expect(deviceAuths).toBe(1);
    expect(clientLogins).toBe(1);
  });
});
