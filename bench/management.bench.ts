/**
 * Management client benchmark, against the sandbox running in a child process (so this process's
 * RSS is the client's alone):
 *
 * 1. Preauthorize throughput: 10,000 devices through `devices.preauthorizeMany` at concurrency 16,
 *    against raw `undici.request` calls sending the same requests (same body shape, headers,
 *    16 connections, 16 in flight) in the same run. The two alternate in rounds of 2,500 so server
 *    warm-up and the sandbox's growing store weigh on both alike. Prints both rates and the ratio
 *    SDK/raw (target ≥ 0.8).
 * 2. Listing memory: a second sandbox seeded with 100,000 devices through its data directory
 *    (`state.json`, loaded at start), then `for await` over `devices.list({ perPage: 500 })`;
 *    prints the peak RSS sampled during the iteration (and the baseline before it).
 *
 * 3. The same preauthorize comparison against a local server that answers 201 at once: the client's
 *    own overhead, without the sandbox's per-request cost.
 * 4. Upload memory: a 1 GiB artifact stream uploaded to a local server; peak RSS while uploading.
 *
 * Run after `pnpm build`: `pnpm bench management`. Sizes: OTAKIT_BENCH_DEVICES (default 10000),
 * OTAKIT_BENCH_LIST (default 100000), OTAKIT_BENCH_UPLOAD_MIB (default 1024); OTAKIT_BENCH_ONLY=upload,listing,
 * throughput,overhead runs only some parts.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
// The built packages (bench/ is not a workspace package).
import { ManagementClient } from '../packages/management-client/dist/index.js';

const DEVICES = Number(process.env.OTAKIT_BENCH_DEVICES ?? 10_000);
const LISTED = Number(process.env.OTAKIT_BENCH_LIST ?? 100_000);
const CONCURRENCY = 16;
const ROUNDS = 4;
const MIB = 1024 * 1024;
const UPLOAD_MIB = Number(process.env.OTAKIT_BENCH_UPLOAD_MIB ?? 1024);

const sandboxEntry = pathToFileURL(resolve(import.meta.dirname, '../packages/sandbox/dist/index.js')).href;

/** Starts the built sandbox in a child process; resolves with its URL and an admin token. */
async function startSandboxProcess(
  dataDir?: string,
): Promise<{ url: string; token: string; child: ChildProcess }> {
  const script = `
    const { startSandbox } = await import(${JSON.stringify(sandboxEntry)});
    const s = await startSandbox({ port: 0${dataDir ? `, dataDir: ${JSON.stringify(dataDir)}` : ''} });
    process.stdout.write(JSON.stringify({ url: s.url, token: s.managementToken() }) + '\\n');
    process.on('SIGTERM', () => s.close().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const line = await new Promise<string>((ok, fail) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) ok(text.split('\n')[0] as string);
    });
    child.once('exit', (code) => fail(new Error(`sandbox exited with ${code}`)));
  });
  const { url, token } = JSON.parse(line) as { url: string; token: string };
  return { url, token, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  await exited;
}

function pubkeyPem(): string {
  return generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** Raw undici: the same POSTs, `CONCURRENCY` workers over an Agent with as many connections. */
async function rawPreauthorize(
  url: string,
  token: string,
  dispatcher: Agent,
  prefix: string,
  n: number,
  pubkey: string,
) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const res = await request(`${url}/api/management/v2/devauth/devices`, {
        method: 'POST',
        dispatcher,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-men-requestid': randomUUID(),
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ identity_data: { sn: `${prefix}-${i}` }, pubkey }),
      });
      await res.body.dump();
      if (res.statusCode !== 201) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

async function throughput(): Promise<void> {
  const { url, token, child } = await startSandboxProcess();
  const pubkey = pubkeyPem();
  const raw = new Agent({ connections: CONCURRENCY });
  const mgmt = new ManagementClient({ serverUrl: url, auth: token, connections: CONCURRENCY });
  const perRound = Math.ceil(DEVICES / ROUNDS);
  let rawMs = 0;
  let sdkMs = 0;
  let rawFailed = 0;
  let sdkFailed = 0;
  try {
    // Warm-up (connections, JIT) on both paths.
    await rawPreauthorize(url, token, raw, 'warm-raw', 200, pubkey);
    await mgmt.devices.preauthorizeMany(
      Array.from({ length: 200 }, (_, i) => ({ identity: { sn: `warm-sdk-${i}` }, pubkey })),
      { concurrency: CONCURRENCY },
    );
    for (let round = 0; round < ROUNDS; round++) {
      const runRaw = async () => {
        const t = performance.now();
        rawFailed += await rawPreauthorize(url, token, raw, `raw-${round}`, perRound, pubkey);
        rawMs += performance.now() - t;
      };
      const runSdk = async () => {
        const items = Array.from({ length: perRound }, (_, i) => ({
          identity: { sn: `sdk-${round}-${i}` },
          pubkey,
        }));
        const t = performance.now();
        const r = await mgmt.devices.preauthorizeMany(items, { concurrency: CONCURRENCY });
        sdkMs += performance.now() - t;
        sdkFailed += r.failed;
      };
      if (round % 2 === 0) {
        await runRaw();
        await runSdk();
      } else {
        await runSdk();
        await runRaw();
      }
    }
  } finally {
    await mgmt.close();
    await raw.close();
    await stop(child);
  }
  const total = perRound * ROUNDS;
  const rawRate = total / (rawMs / 1000);
  const sdkRate = total / (sdkMs / 1000);
  console.log(`preauthorize ${total} devices, concurrency ${CONCURRENCY}:`);
  console.log(
    `  raw undici.request   ${rawRate.toFixed(0)} req/s (${(rawMs / 1000).toFixed(2)} s, ${rawFailed} failed)`,
  );
  console.log(
    `  preauthorizeMany     ${sdkRate.toFixed(0)} req/s (${(sdkMs / 1000).toFixed(2)} s, ${sdkFailed} failed)`,
  );
  console.log(`  ratio SDK/raw        ${(sdkRate / rawRate).toFixed(3)}  (target >= 0.8)`);
  if (rawFailed + sdkFailed > 0) process.exitCode = 1;
}

/**
 * Writes a sandbox state file with `n` preauthorized devices, in a child process so that building
 * 100,000 records does not inflate this process's RSS.
 */
async function seed(dataDir: string, n: number): Promise<void> {
  const script = `
    const { randomUUID, generateKeyPairSync } = await import('node:crypto');
    const { writeFileSync } = await import('node:fs');
    const pubkey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const devices = {};
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < ${n}; i++) {
      const id = randomUUID();
      const ts = new Date(base + i * 1000).toISOString();
      const identity = { sn: 'seed-' + String(i).padStart(6, '0') };
      devices[id] = { id, identity_data: identity, identity_key: JSON.stringify(identity), created_ts: ts,
        updated_ts: ts, decommissioning: false,
        auth_sets: [{ id: randomUUID(), identity_data: identity, pubkey, status: 'preauthorized', ts }] };
    }
    writeFileSync(${JSON.stringify(join(dataDir, 'state.json'))}, JSON.stringify({ version: 1, devices }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
  const code = await new Promise((ok) => child.once('exit', ok));
  if (code !== 0) throw new Error(`seeding failed with exit code ${code}`);
}

async function listing(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'otakit-bench-mgmt-'));
  await seed(dataDir, LISTED);
  const { url, token, child } = await startSandboxProcess(dataDir);
  const mgmt = new ManagementClient({ serverUrl: url, auth: token });
  try {
    globalThis.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const t = performance.now();
    let n = 0;
    const ids = new Set<string>();
    for await (const device of mgmt.devices.list({ perPage: 500 })) {
      n++;
      if (n % 1000 === 0) ids.add(device.id as string); // spot-check without holding everything
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    clearInterval(sampler);
    const seconds = (performance.now() - t) / 1000;
    console.log(
      `list ${n} devices (perPage 500): ${seconds.toFixed(1)} s, ${(n / seconds).toFixed(0)} devices/s`,
    );
    console.log(
      `  RSS before ${(baseline / MIB).toFixed(1)} MiB, peak while iterating ${(peak / MIB).toFixed(1)} MiB`,
    );
    if (n !== LISTED || ids.size !== Math.floor(LISTED / 1000)) {
      console.error(`  expected ${LISTED} devices`);
      process.exitCode = 1;
    }
  } finally {
    await mgmt.close();
    await stop(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The same comparison against a local server that answers 201 at once, so the figure shows the
 * client's own overhead rather than the sandbox's per-request cost.
 */
async function nullServer(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { location: `devices/${randomUUID()}` }).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pubkey = pubkeyPem();
  const raw = new Agent({ connections: CONCURRENCY });
  const mgmt = new ManagementClient({ serverUrl: url, auth: 'token', connections: CONCURRENCY });
  let rawMs = 0;
  let sdkMs = 0;
  const perRound = Math.ceil(DEVICES / ROUNDS);
  try {
    await rawPreauthorize(url, 'token', raw, 'warm', 500, pubkey);
    await mgmt.devices.preauthorizeMany(
      Array.from({ length: 500 }, (_, i) => ({ identity: { sn: `w-${i}` }, pubkey })),
      { concurrency: CONCURRENCY },
    );
    for (let round = 0; round < ROUNDS; round++) {
      const items = Array.from({ length: perRound }, (_, i) => ({
        identity: { sn: `s-${round}-${i}` },
        pubkey,
      }));
      const runRaw = async () => {
        const t = performance.now();
        await rawPreauthorize(url, 'token', raw, `r-${round}`, perRound, pubkey);
        rawMs += performance.now() - t;
      };
      const runSdk = async () => {
        const t = performance.now();
        await mgmt.devices.preauthorizeMany(items, { concurrency: CONCURRENCY });
        sdkMs += performance.now() - t;
      };
      if (round % 2 === 0) {
        await runRaw();
        await runSdk();
      } else {
        await runSdk();
        await runRaw();
      }
    }
  } finally {
    await mgmt.close();
    await raw.close();
    server.close();
  }
  const total = perRound * ROUNDS;
  const rawRate = total / (rawMs / 1000);
  const sdkRate = total / (sdkMs / 1000);
  console.log(`client overhead: the same ${total} POSTs against a server that answers 201 at once:`);
  console.log(`  raw undici.request   ${rawRate.toFixed(0)} req/s`);
  console.log(`  preauthorizeMany     ${sdkRate.toFixed(0)} req/s`);
  console.log(`  ratio SDK/raw        ${(sdkRate / rawRate).toFixed(3)}`);
}

/** Uploads a large artifact stream to a local server that discards it: peak RSS stays flat. */
async function upload(): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201, { location: './artifacts/bench' }).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mgmt = new ManagementClient({ serverUrl: url, auth: 'token' });
  const chunk = new Uint8Array(MIB).fill(7);
  async function* payload(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < UPLOAD_MIB; i++) yield chunk;
  }
  try {
    globalThis.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const t = performance.now();
    const up = mgmt.artifacts.upload({ stream: payload(), size: UPLOAD_MIB * MIB });
    up.on('progress', () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    });
    await up;
    const seconds = (performance.now() - t) / 1000;
    console.log(`upload ${UPLOAD_MIB} MiB (streamed multipart): ${(UPLOAD_MIB / seconds).toFixed(0)} MiB/s`);
    console.log(
      `  RSS before ${(baseline / MIB).toFixed(1)} MiB, peak while uploading ${(peak / MIB).toFixed(1)} MiB`,
    );
  } finally {
    await mgmt.close();
    server.close();
  }
}

const only = process.env.OTAKIT_BENCH_ONLY?.split(',');
const parts: Array<[string, () => Promise<void>]> = [
  ['listing', listing],
  ['upload', upload],
  ['throughput', throughput],
  ['overhead', nullServer],
];
for (const [name, run] of parts) if (only === undefined || only.includes(name)) await run();
