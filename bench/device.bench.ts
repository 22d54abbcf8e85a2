/**
 * Device agent benchmark, against the sandbox running in this process:
 *
 * 1. Idle RSS: a DeviceClient daemon (`run()`, polling every second, nothing deployed) in its own
 *    plain `node` child; its RSS after a few idle seconds (after a GC) and its peak RSS.
 * 2. Update throughput over loopback: a DeviceClient child runs a whole deployment of an
 *    uncompressed rootfs-image artifact (download with staging, verify every checksum, write to
 *    the simulated device's inactive slot, reboot, commit, report) against a raw `undici.request`
 *    child downloading the same signed URL to nowhere, in the same run, best of ROUNDS each.
 *    Prints the rates and the ratios agent/raw: with staging to disk (the default, for resuming
 *    after a restart), without, and without staging into an installer that discards the bytes
 *    (the SDK's own cost: download, tar parsing, SHA-256, state machine, reports).
 *
 * Run after `pnpm build`: `pnpm bench device`. Size: OTAKIT_BENCH_DEVICE_MIB (default 256).
 */

import { spawn } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const MIB = 1024 * 1024;
const PAYLOAD_MIB = Number(process.env.OTAKIT_BENCH_DEVICE_MIB ?? 256);
const ROUNDS = 2;
const IDLE_SECONDS = 5;
const root = resolve(import.meta.dirname, '..');
const dist = (pkg: string) => pathToFileURL(join(root, 'packages', pkg, 'dist', 'index.js')).href;
const UNDICI = pathToFileURL(createRequire(join(root, 'package.json')).resolve('undici')).href;

/** The child: one activity (agent update, raw download, idle agent), timed, with its RSS. */
const CHILD = `
import { readFileSync } from 'node:fs';
// Peak RSS of this process image: VmHWM (ru_maxrss survives exec on Linux and would report the
// parent's peak at fork time).
const peakRss = () => {
  try {
    const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {}
  return process.resourceUsage().maxRSS / 1024;
};
const job = JSON.parse(process.env.OTAKIT_BENCH_JOB);
const { DeviceClient, SimulatedInstaller } = await import(job.deviceClient);
const { request } = await import(job.undici);
// An installer that reads every payload byte and keeps none: isolates the agent from disk writes.
const discard = {
  supports: () => true,
  async download(_ctx, files) { for await (const f of files) for await (const _ of f.stream) {} },
  install: async () => {}, needsReboot: async () => 'No', reboot: async () => {}, verifyReboot: async () => {},
  commit: async () => {}, supportsRollback: async () => true, rollback: async () => {},
  rollbackReboot: async () => {}, verifyRollbackReboot: async () => {}, failure: async () => {}, cleanup: async () => {},
};
const client = job.mode === 'raw' ? undefined : new DeviceClient({
  serverUrl: job.server, privateKey: job.key, identity: job.identity, deviceType: 'bench-device',
  dataDir: job.dataDir,
  installers: [job.discard ? discard : new SimulatedInstaller({ dir: job.dataDir + '/device' })],
  poll: { updateIntervalMs: 1000, retry: { baseDelayMs: 1000, maxDelayMs: 2000 } },
  download: { stage: job.stage !== false },
});
const start = process.hrtime.bigint();
let bytes = 0;
let rss = 0;
if (job.mode === 'agent') {
  const next = await client.checkForUpdate();
  const result = await client.installDeployment(next);
  if (result.outcome !== 'success') throw new Error('update failed: ' + result.error);
} else if (job.mode === 'raw') {
  const res = await request(job.url);
  if (res.statusCode !== 200) throw new Error('raw download: HTTP ' + res.statusCode);
  for await (const chunk of res.body) bytes += chunk.length;
} else {
  const ac = new AbortController();
  const running = client.run({ signal: ac.signal });
  await new Promise((r) => setTimeout(r, job.idleSeconds * 1000));
  globalThis.gc?.();
  rss = process.memoryUsage().rss / ${MIB};
  ac.abort();
  await running;
}
await client?.close();
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ seconds, bytes, rss, peakRss: peakRss() }));
`;

interface Measure {
  seconds: number;
  bytes: number;
  rss: number;
  peakRss: number;
}

/** Runs one child asynchronously: the sandbox serving it lives in this process's event loop. */
function runChild(job: Record<string, unknown>): Promise<Measure> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], {
      cwd: root,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        OTAKIT_BENCH_JOB: JSON.stringify({ deviceClient: dist('device-client'), undici: UNDICI, ...job }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`bench child ${String(job.mode)} failed: ${stderr}`));
      else resolvePromise(JSON.parse(stdout.trim().split('\n').pop()!) as Measure);
    });
  });
}

const mibps = (bytes: number, seconds: number) => `${(bytes / MIB / seconds).toFixed(0)} MiB/s`;

async function main(): Promise<void> {
  const core = await import(dist('core'));
  const { DeviceClient } = await import(dist('device-client'));
  const { startSandbox } = await import(dist('sandbox'));
  const dir = await mkdtemp(join(tmpdir(), 'otakit-bench-device-'));
  const sandbox = await startSandbox({ port: 0 });
  const auth = { authorization: `Bearer ${sandbox.managementToken()}` };
  const mgmt = async (method: string, path: string, body?: unknown, form?: FormData) => {
    const res = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const newDevice = async () => {
    const key = await core.generateDeviceKey({ type: 'ed25519' });
    const identity = { serial: `bench-${randomBytes(4).toString('hex')}` };
    const res = await mgmt('POST', '/api/management/v2/devauth/devices', {
      identity_data: identity,
      pubkey: key.publicKeyPem,
    });
    const id = res.headers.get('location')!.split('/').pop()!;
    const dataDir = await mkdtemp(join(dir, 'dev-'));
    return { id, identity, key: key.privateKeyPem as string, dataDir };
  };
  try {
    // 1. Idle RSS.
    const idleDevice = await newDevice();
    const idle = await runChild({
      mode: 'idle',
      server: sandbox.url,
      key: idleDevice.key,
      identity: idleDevice.identity,
      dataDir: idleDevice.dataDir,
      idleSeconds: IDLE_SECONDS,
    });
    console.log(
      `idle agent (run loop, polling every 1 s): RSS after ${IDLE_SECONDS} s ${idle.rss.toFixed(1)} MiB, peak ${idle.peakRss.toFixed(1)} MiB`,
    );

    // 2. Update throughput vs raw undici.
    await core.writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: 'bench-release',
        deviceTypes: ['bench-device'],
        compression: 'none',
        files: [
          {
            name: 'rootfs.img',
            size: PAYLOAD_MIB * MIB,
            stream: (async function* () {
              for (let i = 0; i < PAYLOAD_MIB; i++) yield randomFillSync(Buffer.allocUnsafe(MIB));
            })(),
          },
        ],
      },
      join(dir, 'bench.mender'),
    );
    const artifactPath = join(dir, 'bench.mender');
    const artifactBytes = (await stat(artifactPath)).size;
    const form = new FormData();
    form.append('artifact', await openAsBlob(artifactPath), 'bench.mender');
    await mgmt('POST', '/api/management/v1/deployments/artifacts', undefined, form);

    let agent: Measure | undefined;
    let unstaged: Measure | undefined;
    let discarding: Measure | undefined;
    let raw: Measure | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const a = await newDevice();
      const u = await newDevice();
      const x = await newDevice();
      const r = await newDevice();
      await mgmt('POST', '/api/management/v1/deployments/deployments', {
        name: `bench-${round}`,
        artifact_name: 'bench-release',
        devices: [a.id, u.id, x.id, r.id],
      });
      // The raw download uses the same kind of signed link the agent gets.
      const rawClient = new DeviceClient({
        serverUrl: sandbox.url,
        privateKey: r.key,
        identity: r.identity,
        deviceType: 'bench-device',
        dataDir: r.dataDir,
        installers: [],
      });
      const next = await rawClient.checkForUpdate();
      await rawClient.close();
      const rm1 = await runChild({ mode: 'raw', url: next.artifact.source.uri });
      if (rm1.bytes !== artifactBytes)
        throw new Error(`raw download got ${rm1.bytes} of ${artifactBytes} bytes`);
      const am = await runChild({
        mode: 'agent',
        server: sandbox.url,
        key: a.key,
        identity: a.identity,
        dataDir: a.dataDir,
      });
      const um = await runChild({
        mode: 'agent',
        stage: false,
        server: sandbox.url,
        key: u.key,
        identity: u.identity,
        dataDir: u.dataDir,
      });
      if (!unstaged || um.seconds < unstaged.seconds) unstaged = um;
      const xm = await runChild({
        mode: 'agent',
        stage: false,
        discard: true,
        server: sandbox.url,
        key: x.key,
        identity: x.identity,
        dataDir: x.dataDir,
      });
      if (!discarding || xm.seconds < discarding.seconds) discarding = xm;
      await rm(x.dataDir, { recursive: true, force: true });
      await rm(u.dataDir, { recursive: true, force: true });
      if (!raw || rm1.seconds < raw.seconds) raw = rm1;
      if (!agent || am.seconds < agent.seconds) agent = am;
      await rm(a.dataDir, { recursive: true, force: true });
    }
    console.log(`artifact: ${(artifactBytes / MIB).toFixed(1)} MiB uncompressed rootfs-image over loopback`);
    console.log(
      `  raw undici download:                 ${mibps(artifactBytes, raw!.seconds)} (best of ${ROUNDS}), peak RSS ${raw!.peakRss.toFixed(1)} MiB`,
    );
    console.log(
      `  agent download+verify+install+commit: ${mibps(artifactBytes, agent!.seconds)} (best of ${ROUNDS}), peak RSS ${agent!.peakRss.toFixed(1)} MiB`,
    );
    console.log(
      `  the same without staging to disk:    ${mibps(artifactBytes, unstaged!.seconds)} (best of ${ROUNDS}), peak RSS ${unstaged!.peakRss.toFixed(1)} MiB`,
    );
    console.log(
      `  ratio agent/raw: ${(raw!.seconds / agent!.seconds).toFixed(3)} (default, staged for restart resume)`,
    );
    console.log(`  ratio agent/raw without staging: ${(raw!.seconds / unstaged!.seconds).toFixed(3)}`);
    console.log(
      `  ratio agent/raw, no staging, discarding installer (SDK overhead only): ${(raw!.seconds / discarding!.seconds).toFixed(3)}`,
    );
  } finally {
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
