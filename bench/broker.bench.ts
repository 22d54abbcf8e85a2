/**
 * IoT Core MQTT bridge (aedes) ingest benchmark.
 *
 * DEVICES simulated devices (mqtt.js clients in one child process, each authenticated with its own
 * ES256 JWT on its own device path) publish MESSAGES QoS 1 telemetry messages each, at most WINDOW
 * unacknowledged per device, to an IoT Core sandbox running in this process. A run's time is from
 * the first publish to the last PUBACK; every PUBACK follows the sink write (the bridge's contract).
 *
 * Three sinks, interleaved round by round (medians of ROUNDS):
 * - `none`: no sink configured: the bridge's own cost (the baseline);
 * - `noop`: a sink that does nothing (returns an already-resolved promise);
 * - `await`: a sink that awaits a resolved promise before returning.
 * Prints messages/s for each and the ratio to the baseline, and the peak RSS of the broker process
 * and of the device process.
 *
 * Run after `pnpm build`: `pnpm bench broker`. Sizes: OTAKIT_BENCH_BROKER_DEVICES (default 1000),
 * OTAKIT_BENCH_BROKER_MESSAGES (per device, default 20), OTAKIT_BENCH_BROKER_ROUNDS (default 3).
 */

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { text } from 'node:stream/consumers';
import { pathToFileURL } from 'node:url';

const DEVICES = Number(process.env.OTAKIT_BENCH_BROKER_DEVICES ?? 1000);
const MESSAGES = Number(process.env.OTAKIT_BENCH_BROKER_MESSAGES ?? 20);
const ROUNDS = Number(process.env.OTAKIT_BENCH_BROKER_ROUNDS ?? 3);
const WINDOW = 10;
const REG = { project: 'bench-p', location: 'us-central1', registry: 'bench-r' };
const REG_PATH = `projects/${REG.project}/locations/${REG.location}/registries/${REG.registry}`;
const root = resolve(import.meta.dirname, '..');
const dist = (pkg: string) => pathToFileURL(join(root, 'packages', pkg, 'dist', 'index.js')).href;
const MQTT = pathToFileURL(
  createRequire(join(root, 'packages', 'sandbox', 'package.json')).resolve('mqtt'),
).href;

/** Peak RSS of this process image in MiB (VmHWM). */
const peakRss = (): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
};

/** The device child: connects every device, then publishes and waits for every PUBACK. */
const CHILD = `
import { readFileSync } from 'node:fs';
// The job (a thousand JWTs) comes on stdin: it is too large for the environment.
let input = '';
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const { default: mqtt } = await import(job.mqtt);
const clients = [];
for (let i = 0; i < job.devices.length; i += 100) {
  const batch = job.devices.slice(i, i + 100).map((d) => mqtt.connectAsync(job.url, {
    clientId: d.clientId, username: 'unused', password: d.token, protocolVersion: 4,
    reconnectPeriod: 0, keepalive: 600, connectTimeout: 60000,
  }));
  clients.push(...(await Promise.all(batch)));
}
const payload = Buffer.from(JSON.stringify({ temp: 21.5, load: 0.42, mem: 123456 }));
const start = process.hrtime.bigint();
await Promise.all(clients.map(async (c, i) => {
  const topic = '/devices/' + job.devices[i].id + '/events';
  let next = 0;
  const lane = async () => { while (next < job.messages) { next++; await c.publishAsync(topic, payload, { qos: 1 }); } };
  await Promise.all(Array.from({ length: job.window }, lane));
}));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
await Promise.all(clients.map((c) => c.endAsync()));
const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ seconds, peakRss: m ? Number(m[1]) / 1024 : 0 }));
`;

interface Measure {
  seconds: number;
  peakRss: number;
}

async function runChild(job: Record<string, unknown>): Promise<Measure> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(JSON.stringify({ mqtt: MQTT, ...job }));
  const [stdout, stderr, [code]] = await Promise.all([
    text(child.stdout),
    text(child.stderr),
    once(child, 'close') as Promise<[number | null]>,
  ]);
  if (code !== 0) throw new Error(`bench child failed: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Measure;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

type SinkName = 'none' | 'noop' | 'await';
const RESOLVED = Promise.resolve();
const SINKS: Record<SinkName, { write(): Promise<void> } | undefined> = {
  none: undefined,
  noop: { write: () => RESOLVED },
  await: {
    async write() {
      await RESOLVED;
    },
  },
};

const { startIotCoreSandbox } = (await import(
  dist('sandbox')
)) as typeof import('../packages/sandbox/src/index.js');
const { signJwt } = (await import(dist('core'))) as typeof import('../packages/core/src/index.js');

const dataDir = await mkdtemp(join(tmpdir(), 'otakit-bench-broker-'));
try {
  // Register the devices once; every round's sandbox loads them from the data dir.
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const setup = await startIotCoreSandbox({ mqtt: false, registries: [REG], dataDir });
  const ids = Array.from({ length: DEVICES }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        const res = await fetch(`${setup.url}/v1/${REG_PATH}/devices`, {
          method: 'POST',
          headers: { authorization: `Bearer ${setup.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id, credentials: [{ publicKey: { format: 'ES256_PEM', key: pem } }] }),
        });
        if (res.status !== 200) throw new Error(`create ${id}: HTTP ${res.status}`);
      }),
    );
  }
  await setup.close();
  const iat = Math.floor(Date.now() / 1000);
  const devices = await Promise.all(
    ids.map(async (id) => ({
      id,
      clientId: `${REG_PATH}/devices/${id}`,
      token: await signJwt({ aud: REG.project, iat, exp: iat + 3600 }, key.privateKey),
    })),
  );

  const rates: Record<SinkName, number[]> = { none: [], noop: [], await: [] };
  let childPeak = 0;
  const order: SinkName[] = ['none', 'noop', 'await'];
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no sink always runs first (warm-up, GC state).
    for (const name of [...order.slice(round % 3), ...order.slice(0, round % 3)]) {
      const sink = SINKS[name];
      const iot = await startIotCoreSandbox({
        registries: [REG],
        dataDir,
        ...(sink ? { telemetrySink: sink } : {}),
      });
      try {
        const m = await runChild({ url: iot.mqttUrl, devices, messages: MESSAGES, window: WINDOW });
        const stored = iot.telemetry.length;
        if (stored !== DEVICES * MESSAGES) throw new Error(`stored ${stored} of ${DEVICES * MESSAGES}`);
        rates[name].push((DEVICES * MESSAGES) / m.seconds);
        childPeak = Math.max(childPeak, m.peakRss);
      } finally {
        await iot.close();
      }
      globalThis.gc?.();
    }
  }

  const base = median(rates.none);
  console.log(
    `broker ingest: ${DEVICES} MQTT devices x ${MESSAGES} QoS 1 messages (window ${WINDOW}), median of ${ROUNDS}`,
  );
  for (const name of order) {
    const r = median(rates[name]);
    console.log(
      `  sink ${name.padEnd(5)} ${Math.round(r).toString().padStart(7)} msg/s   ratio to no sink ${(r / base).toFixed(2)}`,
    );
  }
  console.log(
    `  peak RSS: broker process ${peakRss().toFixed(0)} MiB, device process ${childPeak.toFixed(0)} MiB`,
  );
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
