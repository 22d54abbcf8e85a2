import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  ManagementClient,
  NotFoundError,
  RateLimitError,
  ServerError,
  UnauthorizedError,
} from '../src/index.js';

const ORIGIN = 'http://mender.test';
const DEVAUTH = '/api/management/v2/devauth';
const LOGIN = '/api/management/v1/useradm/auth/login';

let agent: MockAgent;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
});

afterEach(async () => {
  await agent.close();
});

function client(auth: ConstructorParameters<typeof ManagementClient>[0]['auth'] = 'tok') {
  return new ManagementClient({
    serverUrl: ORIGIN,
    auth,
    dispatcher: agent,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
  });
}

const pathOf = (p: string) => (actual: string) => actual.split('?')[0] === p;

describe('error mapping', () => {
  it('maps a 404 to NotFoundError with the request id and the server message', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: `${DEVAUTH}/devices/nope`, method: 'GET' })
      .reply(
        404,
        { error: 'device not found', request_id: 'req-1' },
        { headers: { 'x-men-requestid': 'req-1' } },
      );
    const err = await client()
      .devices.get('nope')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).status).toBe(404);
    expect((err as NotFoundError).requestId).toBe('req-1');
    expect((err as NotFoundError).serverMessage).toBe('device not found');
  });

  it('never puts the token in an error message', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: pathOf(`${DEVAUTH}/devices/x`), method: 'GET' })
      .reply(500, { error: 'internal error' });
    const err = (await client('secret-token-123')
      .devices.get('x', { maxRetries: 0 })
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ServerError);
    expect(`${err.message} ${err.stack}`).not.toContain('secret-token-123');
  });

  it('throws ConflictError on a preauthorize 409 by default', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: `${DEVAUTH}/devices`, method: 'POST' })
      .reply(409, { id: 'dev-1', identity_data: { mac: 'a' }, status: 'preauthorized' });
    await expect(
      client().devices.preauthorize({ identity: { mac: 'a' }, pubkey: 'PEM' }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it('returns the existing device on a 409 in idempotent mode', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: `${DEVAUTH}/devices`, method: 'POST' })
      .reply(409, { id: 'dev-1', identity_data: { mac: 'a' }, status: 'preauthorized' });
    const result = await client().devices.preauthorize(
      { identity: { mac: 'a' }, pubkey: 'PEM' },
      { ifExists: 'return' },
    );
    expect(result).toMatchObject({ id: 'dev-1', created: false, device: { status: 'preauthorized' } });
  });

  it('reads the new device id from the Location header of a 201', async () => {
    let sent: unknown;
    agent
      .get(ORIGIN)
      .intercept({
        path: `${DEVAUTH}/devices`,
        method: 'POST',
        body: (b) => {
          sent = JSON.parse(b);
          return true;
        },
      })
      .reply(201, '', { headers: { location: 'devices/0f5e-new' } });
    const result = await client().devices.preauthorize({ identity: { mac: 'b' }, pubkey: 'PEM' });
    expect(result).toEqual({ id: '0f5e-new', created: true });
    expect(sent).toEqual({ identity_data: { mac: 'b' }, pubkey: 'PEM' });
  });
});

describe('authentication', () => {
  it('logs in with Basic auth and sends the token as a bearer', async () => {
    const pool = agent.get(ORIGIN);
    let basic: string | undefined;
    pool
      .intercept({
        path: LOGIN,
        method: 'POST',
        headers: (h) => {
          basic = (h as Record<string, string>).authorization;
          return true;
        },
      })
      .reply(200, 'jwt-1', { headers: { 'content-type': 'application/jwt' } });
    pool
      .intercept({
        path: `${DEVAUTH}/devices/count`,
        method: 'GET',
        headers: { authorization: 'Bearer jwt-1' },
      })
      .reply(200, { count: 7 });
    const mgmt = client({ email: 'a@b.c', password: 'pw' });
    expect(await mgmt.devices.count()).toBe(7);
    expect(basic).toBe(`Basic ${Buffer.from('a@b.c:pw').toString('base64')}`);
  });

  it('logs in again once when the token is refused with 401, then retries the call', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: LOGIN, method: 'POST' }).reply(200, 'old');
    pool
      .intercept({ path: `${DEVAUTH}/devices/d1`, method: 'GET', headers: { authorization: 'Bearer old' } })
      .reply(401, { error: 'token expired' });
    pool.intercept({ path: LOGIN, method: 'POST' }).reply(200, 'new');
    pool
      .intercept({ path: `${DEVAUTH}/devices/d1`, method: 'GET', headers: { authorization: 'Bearer new' } })
      .reply(200, { id: 'd1', status: 'accepted' });
    const device = await client({ email: 'a@b.c', password: 'pw' }).devices.get('d1');
    expect(device.id).toBe('d1');
  });

  it('gives up with UnauthorizedError when the fresh token is refused too', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: LOGIN, method: 'POST' }).reply(200, 't1');
    pool.intercept({ path: `${DEVAUTH}/devices/d1`, method: 'GET' }).reply(401, { error: 'no' });
    pool.intercept({ path: LOGIN, method: 'POST' }).reply(200, 't2');
    pool.intercept({ path: `${DEVAUTH}/devices/d1`, method: 'GET' }).reply(401, { error: 'no' });
    await expect(client({ email: 'a@b.c', password: 'pw' }).devices.get('d1')).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it('does not log in again with a static token', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: `${DEVAUTH}/devices/d1`, method: 'GET' })
      .reply(401, { error: 'no' });
    await expect(client({ personalAccessToken: 'pat' }).devices.get('d1')).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it('shares one login among concurrent calls', async () => {
    const pool = agent.get(ORIGIN);
    let logins = 0;
    pool
      .intercept({ path: LOGIN, method: 'POST' })
      .reply(() => {
        logins++;
        return { statusCode: 200, data: 'jwt' };
      })
      .persist();
    pool
      .intercept({ path: `${DEVAUTH}/devices/count`, method: 'GET' })
      .reply(200, { count: 1 })
      .times(5);
    const mgmt = client({ email: 'a@b.c', password: 'pw' });
    await Promise.all(Array.from({ length: 5 }, () => mgmt.devices.count()));
    expect(logins).toBe(1);
  });
});

describe('retries', () => {
  it('retries a GET after a 503 and succeeds', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: pathOf(`${DEVAUTH}/devices/count`), method: 'GET' })
      .reply(503, { error: 'unavailable' });
    pool.intercept({ path: pathOf(`${DEVAUTH}/devices/count`), method: 'GET' }).reply(200, { count: 3 });
    const retries: number[] = [];
    const mgmt = client();
    mgmt.events.on('retry', (e) => retries.push(e.status ?? 0));
    expect(await mgmt.devices.count()).toBe(3);
    expect(retries).toEqual([503]);
  });

  it('retries a preauthorize after a 429 with Retry-After', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: `${DEVAUTH}/devices`, method: 'POST' })
      .reply(429, { error: 'too many requests' }, { headers: { 'retry-after': '0' } });
    pool
      .intercept({ path: `${DEVAUTH}/devices`, method: 'POST' })
      .reply(201, '', { headers: { location: 'devices/x' } });
    expect(await client().devices.preauthorize({ identity: { sn: '1' }, pubkey: 'PEM' })).toEqual({
      id: 'x',
      created: true,
    });
  });

  it('throws RateLimitError once the retries are used up', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: pathOf(`${DEVAUTH}/devices/count`), method: 'GET' })
      .reply(429, { error: 'slow down' }, { headers: { 'retry-after': '0' } })
      .times(2);
    const err = await client()
      .devices.count({ maxRetries: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(0);
  });

  it('does not retry creating a deployment (not idempotent)', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/api/management/v1/deployments/deployments', method: 'POST' })
      .reply(503, { error: 'unavailable' });
    await expect(
      client().deployments.create({ name: 'n', artifactName: 'a', devices: ['d'] }),
    ).rejects.toBeInstanceOf(ServerError);
  });
});

describe('pagination', () => {
  it('follows Link rel="next" across pages and yields every item', async () => {
    const pool = agent.get(ORIGIN);
    const link = (p: number) => `<${DEVAUTH}/devices?page=${p}&per_page=2>; rel="next"`;
    pool
      .intercept({ path: `${DEVAUTH}/devices?status=accepted&page=1&per_page=2`, method: 'GET' })
      .reply(200, [{ id: '1' }, { id: '2' }], { headers: { link: link(2) } });
    pool
      .intercept({ path: `${DEVAUTH}/devices?page=2&per_page=2`, method: 'GET' })
      .reply(200, [{ id: '3' }, { id: '4' }], { headers: { link: link(3) } });
    pool
      .intercept({ path: `${DEVAUTH}/devices?page=3&per_page=2`, method: 'GET' })
      .reply(200, [{ id: '5' }], {
        headers: { link: `<${DEVAUTH}/devices?page=1&per_page=2>; rel="first"` },
      });
    const ids: string[] = [];
    for await (const d of client().devices.list({ status: 'accepted', perPage: 2 })) ids.push(d.id ?? '');
    expect(ids).toEqual(['1', '2', '3', '4', '5']);
  });

  it('resolves with the first page when awaited', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/api/management/v1/inventory/devices?group=g1&page=1&per_page=10', method: 'GET' })
      .reply(200, [{ id: 'a' }], { headers: { 'x-total-count': '1' } });
    const page = await client().inventory.list({ group: 'g1', perPage: 10 });
    expect(page).toMatchObject({ page: 1, totalCount: 1, hasNext: false });
    expect(page.items).toEqual([{ id: 'a' }]);
  });

  it('sends inventory filters on attributes named __proto__, constructor and prototype', async () => {
    agent
      .get(ORIGIN)
      .intercept({
        path: '/api/management/v1/inventory/devices?__proto__=a&constructor=b&prototype=c&page=1&per_page=100',
        method: 'GET',
      })
      .reply(200, [{ id: 'x' }], { headers: { 'x-total-count': '1' } });
    const filters = JSON.parse('{"__proto__":"a","constructor":"b","prototype":"c"}') as Record<
      string,
      string
    >;
    const page = await client().inventory.list({ filters });
    expect(page.items).toEqual([{ id: 'x' }]);
  });

  it('logs in again mid-pagination and continues from the refused page', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: LOGIN, method: 'POST' }).reply(200, 'a');
    pool
      .intercept({ path: `${DEVAUTH}/devices?page=1&per_page=1`, method: 'GET' })
      .reply(200, [{ id: '1' }], { headers: { link: `<${DEVAUTH}/devices?page=2&per_page=1>; rel="next"` } });
    pool
      .intercept({
        path: `${DEVAUTH}/devices?page=2&per_page=1`,
        method: 'GET',
        headers: { authorization: 'Bearer a' },
      })
      .reply(401, { error: 'expired' });
    pool.intercept({ path: LOGIN, method: 'POST' }).reply(200, 'b');
    pool
      .intercept({
        path: `${DEVAUTH}/devices?page=2&per_page=1`,
        method: 'GET',
        headers: { authorization: 'Bearer b' },
      })
      .reply(200, [{ id: '2' }], {
        headers: { link: `<${DEVAUTH}/devices?page=1&per_page=1>; rel="first"` },
      });
    const all = await client({ email: 'e', password: 'p' }).devices.list({ perPage: 1 }).toArray();
    expect(all.map((d) => d.id)).toEqual(['1', '2']);
  });
});

describe('bulk helpers', () => {
  it('reports per-item results without stopping at the first failure', async () => {
    const pool = agent.get(ORIGIN);
    for (const [id, status] of [
      ['a', 204],
      ['b', 404],
      ['c', 204],
    ] as const) {
      pool
        .intercept({ path: `${DEVAUTH}/devices/${id}`, method: 'DELETE' })
        .reply(status, status === 404 ? { error: 'not found' } : '');
    }
    const seen: string[] = [];
    const result = await client().devices.decommissionMany(['a', 'b', 'c'], {
      concurrency: 2,
      onResult: (r) => seen.push(r.item),
    });
    expect(result.succeeded).toBe(2);
    expect(result.failed).toBe(1);
    expect(result.results.map((r) => r.ok)).toEqual([true, false, true]);
    const failed = result.results[1];
    expect(failed?.ok === false && failed.error).toBeInstanceOf(NotFoundError);
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });

  it('accepts the pending auth set of each device', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: `${DEVAUTH}/devices/d1`, method: 'GET' }).reply(200, {
      id: 'd1',
      auth_sets: [
        { id: 'old', status: 'rejected', ts: '2026-01-01T00:00:00Z' },
        { id: 'new', status: 'pending', ts: '2026-02-01T00:00:00Z' },
      ],
    });
    let body: unknown;
    pool
      .intercept({
        path: `${DEVAUTH}/devices/d1/auth/new/status`,
        method: 'PUT',
        body: (b) => {
          body = JSON.parse(b);
          return true;
        },
      })
      .reply(204, '');
    const r = await client().devices.acceptMany(['d1']);
    expect(r.succeeded).toBe(1);
    expect(body).toEqual({ status: 'accepted' });
  });
});

describe('deployments', () => {
  const BASE = '/api/management/v1/deployments/deployments';

  it('creates a deployment for a group and returns its id', async () => {
    let body: unknown;
    agent
      .get(ORIGIN)
      .intercept({
        path: `${BASE}/group/canary`,
        method: 'POST',
        body: (b) => {
          body = JSON.parse(b);
          return true;
        },
      })
      .reply(201, '', { headers: { location: `${ORIGIN}${BASE}/dep-9` } });
    const id = await client().deployments.create({ name: 'n', artifactName: 'app-2', group: 'canary' });
    expect(id).toBe('dep-9');
    expect(body).toEqual({ name: 'n', artifact_name: 'app-2' });
  });

  it('refuses a deployment with no or several targets', async () => {
    await expect(client().deployments.create({ name: 'n', artifactName: 'a' })).rejects.toThrow(
      /exactly one/,
    );
    await expect(
      client().deployments.create({ name: 'n', artifactName: 'a', all: true, group: 'g' }),
    ).rejects.toThrow(/exactly one/);
  });

  it('waits for a deployment to finish, emitting statistics as they change', async () => {
    const pool = agent.get(ORIGIN);
    const stats = (pending: number, success: number) => ({ pending, success, failure: 0 });
    const steps = [
      { status: 'inprogress', stats: stats(2, 0) },
      { status: 'inprogress', stats: stats(1, 1) },
      { status: 'finished', stats: stats(0, 2) },
    ];
    for (const step of steps) {
      pool.intercept({ path: `${BASE}/d1`, method: 'GET' }).reply(200, { id: 'd1', status: step.status });
      pool.intercept({ path: `${BASE}/d1/statistics`, method: 'GET' }).reply(200, step.stats);
    }
    const wait = client().deployments.waitFor('d1', { interval: 1 });
    const events: number[] = [];
    wait.on('statistics', (s) => events.push(s.statistics.success));
    const final = await wait;
    expect(final.deployment.status).toBe('finished');
    expect(events).toEqual([0, 1, 2]);
  });

  it('stops waiting when `until` says so, before the deployment finishes', async () => {
    const pool = agent.get(ORIGIN);
    for (const success of [0, 3]) {
      pool.intercept({ path: `${BASE}/d2`, method: 'GET' }).reply(200, { id: 'd2', status: 'inprogress' });
      pool
        .intercept({ path: `${BASE}/d2/statistics`, method: 'GET' })
        .reply(200, { success, pending: 5 - success });
    }
    const snapshot = await client().deployments.waitFor('d2', {
      interval: 1,
      until: ({ statistics }) => statistics.success >= 3,
    });
    expect(snapshot.deployment.status).toBe('inprogress');
    expect(snapshot.statistics.success).toBe(3);
  });

  it('stops waiting when the signal aborts', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: `${BASE}/d1`, method: 'GET' })
      .reply(200, { id: 'd1', status: 'inprogress' })
      .persist();
    pool
      .intercept({ path: `${BASE}/d1/statistics`, method: 'GET' })
      .reply(200, { pending: 1 })
      .persist();
    const controller = new AbortController();
    const wait = client().deployments.waitFor('d1', { interval: 1, signal: controller.signal });
    wait.on('statistics', () => controller.abort(new Error('enough')));
    await expect(wait).rejects.toThrow('enough');
  });
});

describe('deviceconfig', () => {
  const BASE = '/api/management/v1/deviceconfig/configurations/device';

  it('gets, sets and deploys a device configuration', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: `${BASE}/d1`, method: 'GET' }).reply(200, {
      id: 'd1',
      configured: { mode: 'eco' },
      reported: { mode: 'turbo' },
    });
    let put: unknown;
    pool
      .intercept({
        path: `${BASE}/d1`,
        method: 'PUT',
        body: (b) => {
          put = JSON.parse(b);
          return true;
        },
      })
      .reply(204, '');
    pool.intercept({ path: `${BASE}/d1/deploy`, method: 'POST' }).reply(200, { deployment_id: 'cfg-1' });
    const mgmt = client();
    expect(await mgmt.deviceconfig.get('d1')).toMatchObject({ configured: { mode: 'eco' } });
    await mgmt.deviceconfig.set('d1', { mode: 'eco', level: '3' });
    expect(put).toEqual({ mode: 'eco', level: '3' });
    expect(await mgmt.deviceconfig.deploy('d1', { retries: 2 })).toBe('cfg-1');
  });

  it('encodes ids in paths', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: `${BASE}/a%2Fb`, method: 'GET' })
      .reply(200, { id: 'a/b' });
    expect((await client().deviceconfig.get('a/b')).id).toBe('a/b');
  });
});
