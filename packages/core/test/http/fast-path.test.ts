import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { AttemptSignal } from '../../src/http/abort.js';
import { HttpClient } from '../../src/http/client.js';
import { redactUrl } from '../../src/http/redact.js';
import type { HttpEvents, QueryValue } from '../../src/http/types.js';
import { ORIGIN, recordingLogger } from './helpers.js';
import { startServer, type TestServer } from './servers.js';

/**
 * How `resolveUrl` resolved every path before it joined plain paths as strings: through the URL
 * parser. The client must give the same URL for any path and query.
 */
function parserResolve(base: string, path: string, query?: Record<string, QueryValue>): string {
  let url: URL;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) {
    url = new URL(path);
  } else {
    url = new URL(new URL(base).href);
    const at = path.indexOf('?');
    const pathname = at === -1 ? path : path.slice(0, at);
    const search = at === -1 ? undefined : path.slice(at + 1);
    url.pathname = url.pathname.replace(/\/+$/, '') + (pathname.startsWith('/') ? pathname : `/${pathname}`);
    url.search = search ?? '';
  }
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) url.searchParams.append(key, String(v));
  }
  return url.href;
}

const BASES = [
  ORIGIN,
  `${ORIGIN}/`,
  `${ORIGIN}/mender//`,
  `${ORIGIN}/a%20b/c`,
  `${ORIGIN}/api?tenant=1`,
  'https://user:secret@mender.test/base/',
  'HTTPS://Mender.TEST:443/Base',
  'http://127.0.0.1:8080',
  'http://[::1]:8080/x/',
  `${ORIGIN}/#fragment`,
  `${ORIGIN}/x#`,
];

/** Paths made of the pieces that the string join must get right or leave to the parser. */
const piece = fc.constantFrom(
  'api',
  'v1',
  '/',
  '//',
  '.',
  '..',
  '%2e',
  '%2E.',
  '%20',
  '%',
  '?',
  '??',
  '#',
  '&',
  '=',
  'a=b',
  ' ',
  '~',
  '@',
  ':',
  '+',
  "'",
  '"',
  '<',
  '`',
  '{',
  '^',
  '|',
  '\\',
  'é',
  '\t',
  'per_page=20',
);
const relativePath = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
const absolutePath = fc
  .tuple(
    fc.constantFrom(
      'https://mender.test',
      'https://MENDER.test',
      'https://mender.test:443',
      'https://u@mender.test',
      'https://other.test',
      'http://mender.test',
      'http://127.0.0.1:8080',
      'http://127.0.0.1:80',
    ),
    relativePath,
  )
  .map(([origin, rest]) => origin + (rest.startsWith('/') ? rest : `/${rest}`));
const queryValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string({ maxLength: 6 }),
  fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxLength: 3 }),
);
const query = fc.option(
  fc.dictionary(fc.constantFrom('page', 'per_page', 'a b', 'token', 'sig', 'é'), queryValue),
  {
    nil: undefined,
  },
);

describe('resolving URLs without the URL parser', () => {
  it('gives the URL the parser gives, for any base, path and query', () => {
    for (const base of BASES) {
      const client = new HttpClient({ baseUrl: base });
      fc.assert(
        fc.property(fc.oneof(relativePath, absolutePath), query, (path, q) => {
          let expected: string;
          try {
            expected = parserResolve(base, path, q);
          } catch {
            expect(() => client.resolveUrl(path, q)).toThrow();
            return;
          }
          expect(client.resolveUrl(path, q)).toBe(expected);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('sends to the path and query of that URL, and reports it redacted', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const seen: string[] = [];
    agent
      .get(ORIGIN)
      .intercept({ path: () => true, method: () => true })
      .reply((opts) => {
        seen.push(opts.path);
        return { statusCode: 200, data: '' };
      })
      .persist();
    for (const base of [ORIGIN, `${ORIGIN}/base/`, 'https://user:secret@mender.test/x']) {
      const client = new HttpClient({ baseUrl: base, dispatcher: agent, maxRetries: 0 });
      const requested: string[] = [];
      client.events.on('request', (e) => requested.push(e.url));
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            relativePath,
            absolutePath.filter((p) => p.startsWith(`${ORIGIN}/`)),
          ),
          query,
          async (path, q) => {
            let url: string;
            try {
              url = parserResolve(base, path, q);
            } catch {
              return;
            }
            const parsed = new URL(url);
            if (parsed.origin !== ORIGIN) return;
            seen.length = 0;
            requested.length = 0;
            const res = await client.request({ method: 'GET', path, query: q, responseType: 'void' });
            expect(seen).toEqual([parsed.pathname + parsed.search]);
            expect(res.url).toBe(redactUrl(url));
            expect(requested).toEqual([redactUrl(url)]);
          },
        ),
        { numRuns: 150 },
      );
    }
    await agent.close();
  });
});

describe('AttemptSignal', () => {
  it('aborts with a TimeoutError DOMException when the timeout elapses, and clears its timer', async () => {
    const signal = new AttemptSignal(undefined, 20);
    expect(signal.aborted).toBe(false);
    expect(signal.timerPending).toBe(true);
    await new Promise((resolve) => signal.once('abort', resolve));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(DOMException);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
    expect(signal.timedOut).toBe(true);
    expect(signal.callerAborted).toBe(false);
    expect(signal.timerPending).toBe(false);
  });

  it('clears the timer when disposed, and then never aborts', async () => {
    const signal = new AttemptSignal(undefined, 10);
    signal.dispose();
    expect(signal.timerPending).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(signal.aborted).toBe(false);
  });

  it('sets no timer for an infinite or zero timeout', () => {
    expect(new AttemptSignal(undefined, Number.POSITIVE_INFINITY).timerPending).toBe(false);
    expect(new AttemptSignal(undefined, 0).timerPending).toBe(false);
  });

  it("follows the caller's signal with its reason, stops the timer, and lets go of it when disposed", () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const signal = new AttemptSignal(controller.signal, 10_000);
    const events: unknown[] = [];
    signal.on('abort', () => events.push(signal.reason));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(events).toEqual([reason]);
    expect(signal.callerAborted).toBe(true);
    expect(signal.timedOut).toBe(false);
    expect(signal.timerPending).toBe(false);

    const other = new AbortController();
    const disposed = new AttemptSignal(other.signal, 10_000);
    disposed.dispose();
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    other.abort(reason);
    expect(disposed.aborted).toBe(false);
  });

  it('is aborted at once, without a timer or a listener, when the caller already aborted', () => {
    const controller = new AbortController();
    const reason = new Error('already');
    controller.abort(reason);
    const signal = new AttemptSignal(controller.signal, 10_000);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(signal.timerPending).toBe(false);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('HttpClient per-request work against a real server', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  async function serve(): Promise<{ server: TestServer; auth: Array<string | undefined> }> {
    const auth: Array<string | undefined> = [];
    const server = await startServer((req, res) => {
      auth.push(req.headers.authorization);
      req.resume();
      req.on('end', () => {
        if (req.url?.startsWith('/hold')) return;
        res.writeHead(req.url?.startsWith('/fail') ? 500 : 200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    cleanups.push(() => server.close());
    return { server, auth };
  }

  function client(server: TestServer, options: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
    const http = new HttpClient({ baseUrl: server.url, maxRetries: 0, ...options });
    cleanups.push(() => http.close());
    return http;
  }

  it('still times out an attempt, with TimeoutError', async () => {
    const { server } = await serve();
    const http = client(server, { timeout: 50 });
    await expect(http.request({ method: 'GET', path: '/hold' })).rejects.toBeInstanceOf(TimeoutError);
  });

  it("leaves no listener on a caller's long-lived signal, and still rejects with its reason", async () => {
    const { server } = await serve();
    const http = client(server);
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      await http.request({ method: 'POST', path: '/x', json: { i }, signal: controller.signal });
    }
    await expect(http.request({ method: 'GET', path: '/fail', signal: controller.signal })).rejects.toThrow();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const reason = new Error('cancelled');
    const held = http.request({ method: 'GET', path: '/hold', signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await expect(held).rejects.toBe(reason);
  });

  it('takes the token from a synchronous or an asynchronous auth, called on the options', async () => {
    const { server, auth } = await serve();
    const options = {
      token: 'sync',
      auth(): string {
        return this.token;
      },
    };
    const sync = client(server, options);
    await sync.request({ method: 'GET', path: '/a' });
    const later = client(server, { auth: async () => 'async' });
    await later.request({ method: 'GET', path: '/b' });
    const none = client(server, { auth: () => '' });
    await none.request({ method: 'GET', path: '/c' });
    expect(auth).toEqual(['Bearer sync', 'Bearer async', undefined]);
  });

  it('logs and emits events when someone looks, including listeners added later', async () => {
    const { server } = await serve();
    const logger = recordingLogger();
    const logged = client(server, { logger });
    await logged.request({ method: 'GET', path: '/a?token=t' });
    expect(logger.lines).toHaveLength(2);
    expect(logger.lines[0]).toContain('"url":"http://127.0.0.1');
    expect(logger.lines[0]).toContain('/a?token=REDACTED');

    const quiet = client(server);
    await quiet.request({ method: 'GET', path: '/a' });
    const responses: Array<Parameters<HttpEvents['response']>[0]> = [];
    quiet.events.on('response', (e) => responses.push(e));
    await quiet.request({ method: 'GET', path: '/b' });
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatchObject({ method: 'GET', url: `${server.url}/b`, attempt: 1, status: 200 });
    expect(typeof responses[0]?.durationMs).toBe('number');
  });
});

describe('timers', () => {
  it('a process that made requests exits at once: no attempt timer is left behind', async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.url === '/fail' ? 500 : 200).end('{}'));
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const src = pathToFileURL(fileURLToPath(new URL('../../src/http/client.ts', import.meta.url))).href;
    // The default 30 s attempt timeout: a timer left running would hold the process that long.
    const script = `
      const { HttpClient } = await import(${JSON.stringify(src)});
      const http = new HttpClient({ baseUrl: ${JSON.stringify(url)}, maxRetries: 0 });
      await http.request({ method: 'POST', path: '/ok', json: {} });
      await http.request({ method: 'GET', path: '/ok', responseType: 'void' });
      await http.request({ method: 'GET', path: '/fail' }).catch(() => {});
      await http.close();
      globalThis.started = performance.now();
      process.on('exit', () => console.log(JSON.stringify({ exitAfterMs: performance.now() - globalThis.started })));
    `;
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 20_000 },
      );
      const { exitAfterMs } = JSON.parse(stdout.trim().split('\n').pop() as string) as {
        exitAfterMs: number;
      };
      // A leaked attempt timer holds the process for the full 30 s; 10 s leaves room for a loaded CI machine.
      expect(exitAfterMs).toBeLessThan(10_000);
    } finally {
      server.close();
    }
  }, 30_000);
});
