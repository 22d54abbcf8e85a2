import type { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortError, InvalidResponseError } from '../../src/errors.js';
import { findLink, parseLinkHeader } from '../../src/http/link.js';
import { paginateByBody, paginateByLink } from '../../src/http/paginate.js';
import type { HttpRequest, QueryValue } from '../../src/http/types.js';
import { mockClient, mockServer } from './helpers.js';

const DEVICES = '/api/management/v1/inventory/devices';

describe('parseLinkHeader', () => {
  it('parses one comma-joined line with quoted and unquoted rel, and commas inside the target', () => {
    const header =
      '</devices?page=1&per_page=2&sort=a,b>; rel="first", </devices?page=3&per_page=2>; rel=next, </d?page=9>; title="x, y"; rel="last prev"';
    expect(parseLinkHeader(header)).toEqual([
      { href: '/devices?page=1&per_page=2&sort=a,b', rels: ['first'] },
      { href: '/devices?page=3&per_page=2', rels: ['next'] },
      { href: '/d?page=9', rels: ['last', 'prev'] },
    ]);
  });

  it('parses several header lines and finds a relation case-insensitively', () => {
    const lines = ['</a?page=1>; rel="first"', '</a?page=2>; REL="Next"'];
    expect(findLink(lines, 'next')).toBe('/a?page=2');
    expect(findLink(lines, 'prev')).toBeUndefined();
    expect(findLink(undefined, 'next')).toBeUndefined();
  });

  it('skips garbage instead of throwing', () => {
    expect(parseLinkHeader('nonsense, <unterminated; rel=next')).toEqual([]);
    expect(parseLinkHeader('<x>')).toEqual([{ href: 'x', rels: [] }]);
  });
});

describe('HttpClient.paginate', () => {
  let agent: MockAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  function setup() {
    const server = mockServer();
    agent = server.agent;
    const client = mockClient(server.agent);
    const paths: string[] = [];
    client.events.on('request', (e) => paths.push(new URL(e.url).pathname + new URL(e.url).search));
    return { pool: server.pool, client, paths };
  }

  const items = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `d${from + i}` }));

  it('awaits to the first page, with page/per_page sent and X-Total-Count read', async () => {
    const { pool, client, paths } = setup();
    pool
      .intercept({ path: `${DEVICES}?status=accepted&page=1&per_page=2`, method: 'GET' })
      .reply(200, items(1, 2), {
        headers: { 'x-total-count': '5', link: `<${DEVICES}?status=accepted&page=2&per_page=2>; rel="next"` },
      });
    const page = await client.paginate<{ id: string }>(DEVICES, {
      perPage: 2,
      query: { status: 'accepted' },
    });
    expect(page).toEqual({ items: items(1, 2), totalCount: 5, page: 1, perPage: 2, hasNext: true });
    expect(paths).toEqual([`${DEVICES}?status=accepted&page=1&per_page=2`]);
  });

  it('iterates every item over 3 pages following relative Link rel="next" on separate header lines', async () => {
    const { pool, client, paths } = setup();
    const link = (page: number) => [
      `<${DEVICES}?page=1&per_page=2>; rel="first"`,
      `<${DEVICES}?page=${page}&per_page=2>; rel="next"`,
    ];
    pool
      .intercept({ path: `${DEVICES}?page=1&per_page=2`, method: 'GET' })
      .reply(200, items(1, 2), { headers: { link: link(2) } });
    pool
      .intercept({ path: `${DEVICES}?page=2&per_page=2`, method: 'GET' })
      .reply(200, items(3, 2), { headers: { link: link(3) } });
    pool
      .intercept({ path: `${DEVICES}?page=3&per_page=2`, method: 'GET' })
      .reply(200, items(5, 1), { headers: { link: [`<${DEVICES}?page=1&per_page=2>; rel="first"`] } });
    const ids: string[] = [];
    for await (const device of client.paginate<{ id: string }>(DEVICES, { perPage: 2 })) ids.push(device.id);
    expect(ids).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
    expect(paths).toHaveLength(3);
  });

  it('follows a next link given in one comma-joined Link line, relative to the current URL', async () => {
    const { pool, client } = setup();
    pool.intercept({ path: `${DEVICES}?page=1&per_page=3`, method: 'GET' }).reply(200, items(1, 3), {
      headers: { link: `<${DEVICES}?page=1&per_page=3>; rel=first, <devices?page=2&per_page=3>; rel=next` },
    });
    pool.intercept({ path: `${DEVICES}?page=2&per_page=3`, method: 'GET' }).reply(200, items(4, 1), {
      headers: { link: `<${DEVICES}?page=1&per_page=3>; rel=first` },
    });
    const pages = [];
    for await (const page of client.paginate(DEVICES, { perPage: 3 }).pages()) pages.push(page);
    expect(pages.map((p) => [p.page, p.perPage, p.items.length, p.hasNext])).toEqual([
      [1, 3, 3, true],
      [2, 3, 1, false],
    ]);
  });

  it('without a Link header, continues while pages are full and X-Total-Count says more remain', async () => {
    const { pool, client, paths } = setup();
    pool
      .intercept({ path: `${DEVICES}?page=1&per_page=2`, method: 'GET' })
      .reply(200, items(1, 2), { headers: { 'x-total-count': '4' } });
    pool
      .intercept({ path: `${DEVICES}?page=2&per_page=2`, method: 'GET' })
      .reply(200, items(3, 2), { headers: { 'x-total-count': '4' } });
    const all = await client.paginate<{ id: string }>(DEVICES, { perPage: 2 }).toArray();
    expect(all.map((d) => d.id)).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(paths).toHaveLength(2); // page 2 ends the list: 2 * 2 = total, no third request
  });

  it('without a Link header or total, stops at the first page that is not full', async () => {
    const { pool, client, paths } = setup();
    pool.intercept({ path: '/l?page=1&per_page=2', method: 'GET' }).reply(200, items(1, 2));
    pool.intercept({ path: '/l?page=2&per_page=2', method: 'GET' }).reply(200, items(3, 2));
    pool.intercept({ path: '/l?page=3&per_page=2', method: 'GET' }).reply(200, []);
    const all = await client.paginate<{ id: string }>('/l', { perPage: 2 }).toArray();
    expect(all).toHaveLength(4);
    expect(paths).toEqual(['/l?page=1&per_page=2', '/l?page=2&per_page=2', '/l?page=3&per_page=2']);
  });

  it('checks the signal between pages and rejects with its reason', async () => {
    const { pool, client, paths } = setup();
    pool.intercept({ path: '/l?page=1&per_page=1', method: 'GET' }).reply(200, items(1, 1));
    pool.intercept({ path: '/l?page=2&per_page=1', method: 'GET' }).reply(200, items(2, 1));
    const controller = new AbortController();
    const seen: string[] = [];
    const iterate = async () => {
      for await (const d of client.paginate<{ id: string }>('/l', {
        perPage: 1,
        signal: controller.signal,
      })) {
        seen.push(d.id);
        controller.abort();
      }
    };
    await expect(iterate()).rejects.toBeInstanceOf(AbortError);
    expect(seen).toEqual(['d1']);
    expect(paths).toHaveLength(1);
  });

  it('uses extract to find the items, and rejects a body that is not a list', async () => {
    const { pool, client } = setup();
    pool.intercept({ path: '/w?page=1&per_page=20', method: 'GET' }).reply(200, { devices: items(1, 2) });
    const page = await client.paginate('/w', {
      extract: (body) => (body as { devices: Array<{ id: string }> }).devices,
    });
    expect(page.items).toEqual(items(1, 2));
    expect(page.hasNext).toBe(false);

    pool.intercept({ path: '/w?page=1&per_page=20', method: 'GET' }).reply(200, { devices: [] });
    await expect(client.paginate('/w')).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('treats an empty body as an empty last page', async () => {
    const { pool, client } = setup();
    pool.intercept({ path: '/l?page=1&per_page=20', method: 'GET' }).reply(200, '');
    expect(await client.paginate('/l')).toEqual({
      items: [],
      totalCount: undefined,
      page: 1,
      perPage: 20,
      hasNext: false,
    });
  });

  it('paginates through any transport with request and resolveUrl (e.g. one that re-authenticates)', async () => {
    const { pool, client } = setup();
    pool
      .intercept({ path: '/l?page=1&per_page=1', method: 'GET' })
      .reply(200, items(1, 1), { headers: { link: '</l?page=2&per_page=1>; rel="next"' } });
    pool
      .intercept({ path: '/l?page=2&per_page=1', method: 'GET' })
      .reply(200, items(2, 1), { headers: { link: '</l?page=1&per_page=1>; rel="first"' } });
    const sent: string[] = [];
    const transport = {
      request: <R>(req: HttpRequest) => {
        sent.push(req.path);
        return client.request<R>(req);
      },
      resolveUrl: (path: string, query?: Record<string, QueryValue>) => client.resolveUrl(path, query),
    };
    const all = await paginateByLink<{ id: string }>(transport, '/l', { perPage: 1 }).toArray();
    expect(all.map((d) => d.id)).toEqual(['d1', 'd2']);
    expect(sent).toEqual([
      'https://mender.test/l?page=1&per_page=1',
      'https://mender.test/l?page=2&per_page=1',
    ]);
  });

  it('refuses a next link to another origin (it would carry the token there)', async () => {
    const { pool, client } = setup();
    pool
      .intercept({ path: '/l?page=1&per_page=1', method: 'GET' })
      .reply(200, items(1, 1), { headers: { link: '<https://evil.test/l?page=2>; rel="next"' } });
    await expect(client.paginate('/l', { perPage: 1 }).toArray()).rejects.toBeInstanceOf(
      InvalidResponseError,
    );
  });

  it('fetches nothing until awaited or iterated, and the first page only once', async () => {
    const { pool, client, paths } = setup();
    pool.intercept({ path: '/l?page=1&per_page=5', method: 'GET' }).reply(200, items(1, 2));
    const list = client.paginate('/l', { perPage: 5 });
    await Promise.resolve();
    expect(paths).toHaveLength(0);
    const first = await list;
    const all = await list.toArray();
    expect(all).toEqual(first.items);
    expect(paths).toHaveLength(1);
  });
});

describe('paginateByBody', () => {
  let agent: MockAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });
  const SEARCH = '/api/management/v2/inventory/filters/search';

  function setup() {
    const server = mockServer();
    agent = server.agent;
    return { pool: server.pool, client: mockClient(server.agent) };
  }

  it('asks page after page in the body while pages are full and the total says more remain', async () => {
    const { pool, client } = setup();
    const bodies: unknown[] = [];
    const page = (items: unknown[]) => (opts: { body?: unknown }) => {
      bodies.push(JSON.parse(String(opts.body)));
      return { statusCode: 200, data: items, responseOptions: { headers: { 'x-total-count': '5' } } };
    };
    pool.intercept({ path: SEARCH, method: 'POST' }).reply(page([{ id: 1 }, { id: 2 }]));
    pool.intercept({ path: SEARCH, method: 'POST' }).reply(page([{ id: 3 }, { id: 4 }]));
    pool.intercept({ path: SEARCH, method: 'POST' }).reply(page([{ id: 5 }]));
    const filters = [{ attribute: 'device_type', value: 'pi4' }];
    const items = await paginateByBody<{ id: number }>(client, SEARCH, {
      body: { filters },
      perPage: 2,
    }).toArray();
    expect(items.map((d) => d.id)).toEqual([1, 2, 3, 4, 5]);
    expect(bodies).toEqual([
      { filters, page: 1, per_page: 2 },
      { filters, page: 2, per_page: 2 },
      { filters, page: 3, per_page: 2 },
    ]);
  });

  it('stops at a full page when the total is reached, and retries a page (the search is read-only)', async () => {
    const { pool, client } = setup();
    pool.intercept({ path: SEARCH, method: 'POST' }).reply(503, { error: 'busy' });
    pool
      .intercept({ path: SEARCH, method: 'POST' })
      .reply(200, [{ id: 1 }, { id: 2 }], { headers: { 'x-total-count': '2' } });
    const first = await paginateByBody<{ id: number }>(client, SEARCH, { perPage: 2 });
    expect(first).toMatchObject({ page: 1, perPage: 2, totalCount: 2, hasNext: false });
    expect(first.items).toHaveLength(2);
  });

  it('stops when a Link header has no rel="next", and refuses a body that is not a list', async () => {
    const { pool, client } = setup();
    pool
      .intercept({ path: SEARCH, method: 'POST' })
      .reply(200, [{ id: 1 }], { headers: { link: `<${SEARCH}>; rel="first"` } });
    expect((await paginateByBody(client, SEARCH, { perPage: 1 })).hasNext).toBe(false);
    pool.intercept({ path: SEARCH, method: 'POST' }).reply(200, { not: 'a list' });
    await expect(paginateByBody(client, SEARCH).toArray()).rejects.toBeInstanceOf(InvalidResponseError);
  });
});
