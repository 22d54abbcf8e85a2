/**
 * An idle device agent loads only what idling needs: the built `otakit device run` runs against the
 * sandbox under the preload that records every module it resolves (as startup.test.ts does for
 * the CLI), authenticates, sends its inventory and polls; then the test asserts what stayed
 * unloaded. The agent runs from the device bundle (dist/otakit-device.cjs), which compiles in the
 * device client, core, jose's decoder and the parts of undici it uses, so what it holds is also
 * checked in the bundle's source map (test/device-bundle.test.ts checks the bundle itself). Its
 * memory is measured by bench/device.bench.ts, not here.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDeviceKey } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJsonAgent } from './helpers.js';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const preload = join(cliRoot, 'test', 'fixtures', 'record-loads.mjs');

/**
 * What an idle agent without telemetry does not need: jose beyond its decode-only modules (no JWT
 * is signed or verified; the device token's expiry is only decoded), MQTT and the IoT Core adapter (telemetry is off),
 * and the server-side packages.
 */
const NOT_WHEN_IDLE = [
  // jose's entry and its sign/verify/encrypt modules; `util/decode_*`, `util/base64url`,
  // `util/errors` and `lib/{buffer_utils,validate}` are what decoding a token loads.
  /\/jose\/dist\/\w+\/index\.js$/,
  /\/jose\/dist\/\w+\/(jws|jwe|jwk|jwks|key)\//,
  /\/jose\/dist\/\w+\/jwt\/(sign|verify|produce|encrypt|decrypt|unsecured)/,
  /\/jose\/dist\/\w+\/lib\/(sign|verify|encrypt|decrypt|crypto_key|key_to_jwk)/,
  /\/mqtt\//,
  /\/aedes\//,
  /\/fastify\//,
  /\/packages\/iot-core-adapter\//,
  /@otakit\/iot-core-adapter/,
  /\/packages\/management-client\//,
  /@otakit\/management-client/,
  /\/packages\/sandbox\//,
  /\/packages\/telemetry\//,
  // undici's entry (fetch, WebSocket, caches, mocks), its HTTP/2 client and node:assert.
  /\/undici\/index\.js$/,
  // undici's WebAssembly HTTP parser: the agent sends over core's `transport: 'node'` (Node's HTTP
  // client), so undici's own client, which would require it, is never run.
  /\/undici\/lib\/llhttp\/llhttp(_simd)?-wasm\.js$/,
  /\/undici\/lib\/(web|mock|cache|interceptor)\//,
  /\/undici\/lib\/dispatcher\/client-h2\.js$/,
  /^cjs:(node:)?(assert|http2)$/,
];

/**
 * Node modules an idle agent does not need, that undici's `node:http` and the global `performance`
 * loaded (the device bundle gives undici and `performance.now()` its own, src/bundle/http.ts and
 * src/bundle/performance.ts): Node's HTTP server, `node:http` itself (core's node transport takes
 * the client from `_http_agent` and `_http_client`), perf_hooks.
 */
const NODE_NOT_WHEN_IDLE = /^(http|_http_server|perf_hooks|internal\/perf\/performance|http2|assert)$/;

/** The modules of Node's HTTP client, which core's `transport: 'node'` sends through. */
const NODE_HTTP_CLIENT = ['_http_agent', '_http_client'];

/**
 * Every file compiled into the device bundle, from its source map (not the build's generated
 * modules, `namespace:path`, such as the one-line `require()` of a package left out).
 */
async function bundledSources(): Promise<string[]> {
  const map = JSON.parse(await readFile(join(cliRoot, 'dist', 'otakit-device.cjs.map'), 'utf8')) as {
    sources: string[];
  };
  return map.sources
    .filter((source) => !/^[\w-]+:/.test(source))
    .map((source) => resolve(cliRoot, 'dist', source));
}

let sandbox: Sandbox;
let dir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'otakit-device-idle-'));
});
afterAll(async () => {
  await sandbox?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('otakit device run, idle', () => {
  it('authenticates and polls with only the decoder of jose, without MQTT, the telemetry adapter or server packages', async () => {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    await writeFile(join(dir, 'device.key'), key.privateKeyPem, { mode: 0o600 });
    const serial = `idle-${Date.now()}`;
    const res = await fetch(`${sandbox.url}/api/management/v2/devauth/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.managementToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ identity_data: { serial }, pubkey: key.publicKeyPem }),
    });
    expect(res.status).toBe(201);
    const log = join(dir, 'loads.log');
    const builtinLog = join(dir, 'builtins.log');
    const agent = startJsonAgent(
      [
        '--server',
        sandbox.url,
        '--key',
        join(dir, 'device.key'),
        '--data-dir',
        join(dir, 'data'),
        '--device-type',
        'test-device',
        '--identity',
        `serial=${serial}`,
        '--installer',
        `simulated:${join(dir, 'slots')}`,
        '--poll-interval',
        '1s',
      ],
      {
        NODE_OPTIONS: `--import=${preload}`,
        OTAKIT_LOAD_LOG: log,
        OTAKIT_BUILTIN_LOG: builtinLog,
        OTAKIT_V8_LOG: '1',
      },
    );
    try {
      await agent.until('"event":"inventory:sent"');
      await agent.until('"message":"no update"');
    } finally {
      await agent.stop();
    }
    const modules = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    // It did run the agent, from the device bundle (which has the device client and undici in it)...
    const bundle = `cjs:${join(cliRoot, 'dist', 'otakit-device.cjs')}`;
    expect(modules).toContain(bundle);
    // ...with the V8 flags of commands/device-v8.ts set before the bundle loaded, and an idle agent
    // never lifting --max-opt (that is for an update),
    expect(modules.filter((m) => m.startsWith('v8:'))).toEqual(['v8:--max-opt=0', 'v8:--liftoff-only']);
    expect(modules.indexOf('v8:--max-opt=0')).toBeLessThan(modules.indexOf(bundle));
    expect(modules.some((m) => /\/packages\/device-client\/dist\//.test(m))).toBe(false);
    // ...and loaded nothing an idle agent without telemetry does not use,
    expect(modules.filter((m) => NOT_WHEN_IDLE.some((re) => re.test(m)))).toEqual([]);
    // Nor did Node load its HTTP server or perf_hooks for it (the list was written at exit: it has
    // the modules the agent used, such as net, crypto and Node's HTTP client, which it sends over).
    const builtins = (await readFile(builtinLog, 'utf8')).split('\n').filter(Boolean);
    expect(builtins).toEqual(expect.arrayContaining(['net', 'crypto', ...NODE_HTTP_CLIENT]));
    expect(builtins.filter((m) => NODE_NOT_WHEN_IDLE.test(m))).toEqual([]);
    // nor has it in the bundle.
    const sources = await bundledSources();
    expect(sources.filter((m) => NOT_WHEN_IDLE.some((re) => re.test(m)))).toEqual([]);
    expect(sources.some((m) => /\/packages\/device-client\/src\//.test(m))).toBe(true);
    expect(sources.some((m) => /\/undici\/lib\/dispatcher\/agent\.js$/.test(m))).toBe(true);
    // The token's expiry is read through jose's decoder (the one JWT codec), not by hand.
    expect(sources.some((m) => /\/jose\/dist\/\w+\/util\/decode_jwt\.js$/.test(m))).toBe(true);
  });
});
