/**
 * The device bundle (dist/otakit-device.cjs, built by tsup.config.ts from src/main.ts) and the
 * modules it puts in place of parts of undici (src/bundle/): the `node:assert` it gives undici
 * asserts as Node's does, the HTTP/2 client it leaves out fails with a clear error, the undici it
 * gives core has every member core uses, as undici's own classes, and sends real requests (and
 * through a dispatcher a user passes); the built file compiles none of what it replaces in.
 * core's HTTP client on that undici: test/undici-subset-core.test.ts. Memory: bench/device.bench.ts.
 */

import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { startServer, type TestServer } from '@otakit/test-support';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssertionError, assert } from '../src/bundle/assert.js';
import { httpForClient, isIncomingMessage, maxHeaderSize } from '../src/bundle/http.js';
import { connectH2, Http2NotBundledError } from '../src/bundle/no-http2.js';
import { performance as bundlePerformance } from '../src/bundle/performance.js';
import { undiciSubset } from '../src/bundle/undici.js';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const coreHttp = join(cliRoot, '..', 'core', 'src', 'http');

describe('the node:assert of the device bundle', () => {
  it('returns for truthy values and throws an AssertionError for falsy ones', () => {
    for (const value of [true, 1, 'x', {}, [], -1]) expect(() => assert(value)).not.toThrow();
    for (const value of [false, 0, '', null, undefined, Number.NaN]) {
      const err = (() => {
        try {
          assert(value);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(AssertionError);
      expect(err).toMatchObject({
        name: 'AssertionError',
        code: 'ERR_ASSERTION',
        actual: value,
        expected: true,
        operator: '==',
        generatedMessage: true,
      });
    }
  });

  it('uses the message given, and throws an Error given as the message itself', () => {
    expect(() => assert(false, 'disturbed')).toThrow(
      expect.objectContaining({ message: 'disturbed', code: 'ERR_ASSERTION', generatedMessage: false }),
    );
    const own = new RangeError('mine');
    expect(() => assert(0, own)).toThrow(own);
  });

  it('has ok, strict and AssertionError as Node’s assert has them', () => {
    expect(assert.ok).toBe(assert);
    expect(() => assert.ok(false)).toThrow(AssertionError);
    expect(() => assert.strict(null)).toThrow(AssertionError);
    expect(assert.AssertionError).toBe(AssertionError);
  });

  it('covers every way undici uses node:assert: a call with a value and an optional message', async () => {
    // Every file of undici's lib/ that requires node:assert, and every use of that binding.
    const lib = join(dirname(fileURLToPath(import.meta.resolve('undici'))), 'lib');
    const files = (await readdir(lib, { recursive: true })).filter((f) => f.endsWith('.js'));
    let calls = 0;
    for (const file of files) {
      const text = await readFile(join(lib, file), 'utf8');
      const required = /const (\w+) = require\('(?:node:)?assert'\)\n/.exec(text);
      if (required === null) continue;
      const binding = required[1] as string;
      // Every use of the binding outside its declaration (comments stripped).
      const code = text.replace(required[0], '').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
      const uses = code.match(new RegExp(`(?<![\\w.'])${binding}\\b[^\\n]?`, 'g')) ?? [];
      for (const use of uses) {
        // `assert(` (a call) is all there is: no `assert.equal`, `assert.strictEqual`, ...
        expect(`${file}: ${use}`).toMatch(/: \w+\($/);
        calls++;
      }
    }
    expect(calls).toBeGreaterThan(50);
  });
});

describe('the node:http of the device bundle', () => {
  it('gives Node’s own maxHeaderSize when no --max-http-header-size is given', () => {
    expect(maxHeaderSize([], undefined)).toBe(http.maxHeaderSize);
    expect(maxHeaderSize([], '--no-warnings')).toBe(16384);
    expect(httpForClient.maxHeaderSize).toBe(http.maxHeaderSize);
  });

  it('asks node:http when the process was given --max-http-header-size, on its command line or in NODE_OPTIONS', async () => {
    const script = `import { maxHeaderSize } from ${JSON.stringify(join(cliRoot, 'src', 'bundle', 'http.ts'))};
      console.log(JSON.stringify([maxHeaderSize(), (await import('node:http')).maxHeaderSize]));`;
    const run = (args: string[], nodeOptions: string) =>
      new Promise<number[]>((resolvePromise, reject) => {
        execFile(
          process.execPath,
          [...args, '--import', 'tsx', '--input-type=module', '-e', script],
          { cwd: join(cliRoot, '..', '..'), env: { ...process.env, NODE_OPTIONS: nodeOptions } },
          (err, stdout) => (err ? reject(err) : resolvePromise(JSON.parse(stdout) as number[])),
        );
      });
    expect(await run(['--max-http-header-size=65536'], '')).toEqual([65536, 65536]);
    expect(await run([], '--max_http_header_size=32768')).toEqual([32768, 32768]);
    expect(await run([], '')).toEqual([16384, 16384]);
  });

  it('recognises http.IncomingMessage, and only it, as undici’s util.destroy does', () => {
    expect(isIncomingMessage(http.IncomingMessage)).toBe(true);
    // A class of the same name, other streams, and what a prototype chain may end in.
    expect(isIncomingMessage(class IncomingMessage {})).toBe(false);
    expect(isIncomingMessage(Readable)).toBe(false);
    expect(isIncomingMessage(undefined)).toBe(false);
    expect(isIncomingMessage('IncomingMessage')).toBe(false);
  });
});

describe('the performance of the device bundle', () => {
  it('counts monotonic milliseconds, as the global performance.now() does', async () => {
    const [ours, node] = [bundlePerformance.now(), performance.now()];
    await new Promise((r) => setTimeout(r, 25));
    const ourDelta = bundlePerformance.now() - ours;
    const nodeDelta = performance.now() - node;
    // Milliseconds (not micro- or nanoseconds), with sub-millisecond precision, from one clock.
    expect(ourDelta).toBeGreaterThanOrEqual(24);
    expect(ourDelta).toBeLessThan(nodeDelta + 1);
    expect(ourDelta).toBeGreaterThan(nodeDelta - 1);
    expect(Number.isInteger(bundlePerformance.now() * 1000)).toBe(false);
  });
});

describe('the HTTP/2 client of the device bundle', () => {
  it('throws a typed error naming why, instead of loading node:http2', () => {
    expect(() => connectH2()).toThrow(Http2NotBundledError);
    expect(() => connectH2()).toThrow(
      expect.objectContaining({
        code: 'ERR_OTAKIT_HTTP2_NOT_BUNDLED',
        message: expect.stringMatching(/allowH2/),
      }),
    );
  });
});

describe('the undici of the device bundle', () => {
  it('has every member of undici that core’s HTTP code uses', async () => {
    const used = new Set<string>();
    for (const file of await readdir(coreHttp)) {
      const text = await readFile(join(coreHttp, file), 'utf8');
      // `undici.X`, not a file name such as './undici.js'.
      for (const m of text.matchAll(/(?<![\w/])undici\.([A-Za-z]\w*)(?![\w'])/g)) used.add(m[1] as string);
    }
    // Sanity: the scan sees what core is known to use.
    expect([...used]).toEqual(expect.arrayContaining(['request', 'Dispatcher', 'Agent', 'FormData']));
    for (const name of used) expect(undiciSubset, name).toHaveProperty(name);
  });

  it('is made of undici’s own classes and errors, the ones its entry exports', () => {
    expect(undiciSubset.Dispatcher).toBe(undici.Dispatcher);
    expect(undiciSubset.Agent).toBe(undici.Agent);
    expect(undiciSubset.ProxyAgent).toBe(undici.ProxyAgent);
    expect(undiciSubset.EnvHttpProxyAgent).toBe(undici.EnvHttpProxyAgent);
    expect(undiciSubset.errors).toBe(undici.errors);
    // Dispatchers have the request API, as with undici's entry.
    expect(undiciSubset.Dispatcher.prototype.request).toBe(undici.Dispatcher.prototype.request);
    // fetch's FormData and Response are Node's (read when used), which encode each other.
    expect(undiciSubset.FormData).toBe(globalThis.FormData);
    expect(undiciSubset.Response).toBe(globalThis.Response);
  });

  describe('over loopback', () => {
    let server: TestServer;
    let base: string;
    beforeAll(async () => {
      server = await startServer((req, res) => {
        if (req.url === '/hold') return; // never answers
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c.toString();
        });
        req.on('end', () => {
          res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, url: req.url, body }));
        });
      });
      base = server.url;
    });
    afterAll(() => server.close());

    /** What a `request` call came to: its status and body, or its error (thrown or rejected). */
    async function outcome(send: () => Promise<undici.Dispatcher.ResponseData>): Promise<unknown> {
      try {
        const res = await send();
        return { status: res.statusCode, body: await res.body.text() };
      } catch (err) {
        const e = err as Error & { code?: string };
        return { error: e.constructor.name, code: e.code, message: e.message };
      }
    }

    it('comes to what undici.request comes to, for each URL and options form', async () => {
      const agent = new undiciSubset.Agent({ headersTimeout: 300 });
      const cases: [string, unknown, Record<string, unknown> | string | undefined][] = [
        ['a path with a query', `${base}/a/b?x=1`, {}],
        ['a URL object', new URL(`${base}/u`), {}],
        ['a body without a method (a PUT)', `${base}/p`, { body: 'hello' }],
        ['a POST answered 404', `${base}/missing`, { method: 'POST', body: '{}' }],
        ['an origin and options.path', base, { path: 'given?q=2' }],
        ['an options object as the URL', { origin: base, pathname: '/o', search: '?s=1' }, undefined],
        ['a URL with a path and options.path', `${base}/ignored`, { path: '/x' }],
        ['options.path not a string', base, { path: 1 }],
        ['an empty URL', '', {}],
        ['not a URL', 'not a url', {}],
        ['options not an object', base, 'x'],
        ['options.agent', base, { agent: {} }],
        ['a refused connection', 'http://127.0.0.1:9/', {}],
        ['a headers timeout', `${base}/hold`, {}],
      ];
      try {
        for (const [label, url, opts] of cases) {
          const withAgent = (o: Record<string, unknown> | string | undefined) =>
            (o === undefined ? undefined : typeof o === 'object' ? { ...o, dispatcher: agent } : o) as never;
          const theirs = await outcome(() => undici.request(url as string, withAgent(opts)));
          const ours = await outcome(() => undiciSubset.request(url as string, withAgent(opts)));
          expect(ours, label).toEqual(theirs);
        }
      } finally {
        await agent.destroy();
      }
    });

    it('sends a request as undici.request does: method, path with query, body', async () => {
      const agent = new undiciSubset.Agent();
      try {
        const put = await undiciSubset.request(`${base}/a?x=1`, { dispatcher: agent, body: 'hello' });
        expect(put.statusCode).toBe(200);
        expect(await put.body.json()).toEqual({ method: 'PUT', url: '/a?x=1', body: 'hello' });
      } finally {
        await agent.close();
      }
    });

    it('sends through the global dispatcher when none is given', async () => {
      const res = await undiciSubset.request(`${base}/global`);
      expect(await res.body.json()).toMatchObject({ url: '/global' });
    });

    it('rejects an aborted request with the signal’s reason, as undici does', async () => {
      const agent = new undiciSubset.Agent();
      try {
        const ac = new AbortController();
        const aborted = undiciSubset.request(`${base}/hold`, { dispatcher: agent, signal: ac.signal });
        const reason = new Error('stopped by the caller');
        ac.abort(reason);
        await expect(aborted).rejects.toBe(reason);
      } finally {
        await agent.destroy();
      }
    });

    it('sends through a dispatcher a user passes, such as undici’s MockAgent', async () => {
      const mock = new undici.MockAgent();
      mock.disableNetConnect();
      mock.get('https://mender.test').intercept({ path: '/x', method: 'GET' }).reply(201, 'mocked');
      mock.get('https://mender.test').intercept({ path: '/y', method: 'GET' }).reply(202, 'again');
      const res = await undiciSubset.request('https://mender.test/x', { dispatcher: mock });
      expect(res.statusCode).toBe(201);
      expect(await res.body.text()).toBe('mocked');
      // The fast path core takes for paths under its base URL.
      const direct = await undiciSubset.Dispatcher.prototype.request.call(mock, {
        origin: 'https://mender.test',
        path: '/y',
        method: 'GET',
      });
      expect(direct.statusCode).toBe(202);
      await mock.close();
    });
  });
});

describe('the built device bundle', () => {
  let text: string;
  let sources: string[];
  beforeAll(async () => {
    text = await readFile(join(cliRoot, 'dist', 'otakit-device.cjs'), 'utf8');
    const map = JSON.parse(await readFile(join(cliRoot, 'dist', 'otakit-device.cjs.map'), 'utf8')) as {
      sources: string[];
    };
    sources = map.sources;
  });

  it('requires neither node:assert, node:http2, node:http nor perf_hooks', () => {
    expect(text).not.toMatch(/require\("(node:)?(assert|http2?|perf_hooks)(\/strict)?"\)/);
    expect(sources.some((s) => s.endsWith('src/bundle/http.ts'))).toBe(true);
    // Every `performance.now()` reads src/bundle/performance.ts, none the global.
    expect(sources.some((s) => s.endsWith('src/bundle/performance.ts'))).toBe(true);
    expect(text).not.toMatch(/globalThis\.performance/);
    // ...while the same build keeps undici's client, so the check looks where it should.
    expect(sources.some((s) => s.endsWith('undici/lib/dispatcher/client-h1.js'))).toBe(true);
  });

  it('compiles in undici’s lib/ files the agent uses, not its entry, HTTP/2 client, fetch or mocks', () => {
    const undiciFiles = sources.filter((s) => /\/undici\//.test(s));
    expect(undiciFiles.length).toBeGreaterThan(10);
    expect(
      undiciFiles.filter((s) =>
        /\/undici\/index\.js$|\/lib\/(web|mock|cache|interceptor)\/|client-h2\.js$/.test(s),
      ),
    ).toEqual([]);
    expect(sources.some((s) => s.endsWith('src/bundle/assert.ts'))).toBe(true);
    expect(sources.some((s) => s.endsWith('src/bundle/no-http2.ts'))).toBe(true);
  });

  it('leaves what undici loads only off the agent’s paths to undici’s own files', () => {
    expect(text).toContain('require("undici/lib/web/fetch/body.js")');
    // Both builds of undici's WebAssembly HTTP parser: only undici's own client (reached through a
    // proxy) parses with them; the agent sends over core's `transport: 'node'`.
    expect(text).toContain('require("undici/lib/llhttp/llhttp-wasm.js")');
    expect(text).toContain('require("undici/lib/llhttp/llhttp_simd-wasm.js")');
    expect(sources.filter((s) => /\/undici\/lib\/llhttp\/llhttp(_simd)?-wasm\.js$/.test(s))).toEqual([]);
  });

  it('has the device command group only', () => {
    expect(sources.some((s) => s.endsWith('src/commands/device.ts'))).toBe(true);
    expect(
      sources.filter((s) => /src\/commands\/(artifact|sandbox|rollout|iot|telemetry|dashboard)\.ts$/.test(s)),
    ).toEqual([]);
  });
});
