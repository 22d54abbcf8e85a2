/**
 * Device agent benchmark, against the sandbox running in this process (a real HTTP server on
 * 127.0.0.1 serving the artifact through signed links, as a Mender server does):
 *
 * 1. Update throughput. Each round, in its own `node` child each, interleaved (the order rotates
 *    every round so machine load weighs on all alike):
 *    - raw: `undici.request` of the artifact's signed link, piped to a file in the same directory
 *      as the agent's slots, fsynced (the fastest honest way to put the same bytes on the same disk);
 *    - agent: a DeviceClient daemon (`run()`) doing the whole deployment of an uncompressed
 *      rootfs-image: download staged for restart resume (the default), verify every checksum,
 *      write the inactive slot of a simulated A/B device, reboot, commit, report;
 *    - agent as `otakit device run` sets it up: its V8 flags (packages/cli/src/commands/device-v8.ts:
 *      at start, and when its update starts; or OTAKIT_BENCH_AGENT_V8 throughout) and core's
 *      `transport: 'node'` (Node's HTTP client; OTAKIT_BENCH_AGENT_TRANSPORT=undici for undici's),
 *      the same deployment: what they cost an update;
 *    - agent, no staging (`download.stage: false`): what staging for restart resume costs;
 *    - agent, killed at half and resumed: the same deployment, the agent SIGKILLed once half the
 *      bytes went by and started again (it replays the staged prefix, re-hashing the slot, and
 *      fetches the rest with Range); the wall time of both runs together.
 *    Prints medians, each agent's median ratio raw/agent (1.0 = as fast as the raw download, the
 *    target is >= 0.8) and every child's peak RSS (VmHWM).
 * 2. Idle RSS: the built CLI's `otakit device run` (simulated installer, polling every second,
 *    nothing deployed, an accepted device) next to a bare `node` idling with a timer, all started
 *    together; VmRSS from /proc sampled every second over the last third of IDLE_SECONDS (median,
 *    and the last sample) and VmHWM. Target (issue 15): <= 48 MiB.
 *
 * Run after `pnpm build`: `pnpm bench device`. Environment:
 * OTAKIT_BENCH_DEVICE_MIB (payload size, default 256), OTAKIT_BENCH_DEVICE_ROUNDS (default 3),
 * OTAKIT_BENCH_IDLE_SECONDS (default 30; 0 skips the idle measurement),
 * OTAKIT_BENCH_DEVICE_SKIP_UPDATE=1 (only the idle measurement), OTAKIT_BENCH_BEFORE=path/to/other/
 * packages/cli/bin/otakit.cjs (that build's agent idles in the same run, for a before/after),
 * OTAKIT_BENCH_AGENT_V8 (the flags of the flagged agent, space-separated; default: device run's).
 * For a look inside the idle agent: OTAKIT_BENCH_IDLE_SMAPS=1 prints each idler's resident memory
 * by mapping (anonymous, the node binary's pages, each library), OTAKIT_BENCH_IDLE_HOLD=S keeps
 * them idling S seconds more with their pids printed (for /proc/PID/pagemap or a heap snapshot),
 * OTAKIT_BENCH_IDLE_NODE_OPTIONS sets their NODE_OPTIONS (e.g. `--require` of a probe).
 * OTAKIT_BENCH_IDLE_TLS=1: the agents reach the sandbox over HTTPS, as in the field (a TLS reverse
 * proxy in this process with a certificate made by `openssl`, trusted with `--ca`).
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  AGENT_WASM_FLAGS,
  DEVICE_V8_FLAGS,
  UPDATE_V8_FLAGS,
} from '../packages/cli/src/commands/device-v8.js';

const MIB = 1024 * 1024;
const PAYLOAD_MIB = Number(process.env.OTAKIT_BENCH_DEVICE_MIB ?? 256);
const ROUNDS = Number(process.env.OTAKIT_BENCH_DEVICE_ROUNDS ?? 3);
const IDLE_SECONDS = Number(process.env.OTAKIT_BENCH_IDLE_SECONDS ?? 30);
const SKIP_UPDATE = process.env.OTAKIT_BENCH_DEVICE_SKIP_UPDATE === '1';
const IDLE_TLS = process.env.OTAKIT_BENCH_IDLE_TLS === '1';
const TARGET_RATIO = 0.8;
const TARGET_IDLE_MIB = 48;
const root = resolve(import.meta.dirname, '..');
/**
 * The V8 flags `otakit device run` sets (packages/cli/src/commands/device-v8.ts), or
 * OTAKIT_BENCH_AGENT_V8 (space-separated flags) to try others: an agent with them downloads,
 * verifies and installs in every round next to the one without.
 */
const AGENT_V8_FLAGS = process.env.OTAKIT_BENCH_AGENT_V8
  ? process.env.OTAKIT_BENCH_AGENT_V8.split(' ').filter(Boolean)
  : [...AGENT_WASM_FLAGS, ...DEVICE_V8_FLAGS];
/** The transport of that agent: `device run`'s (core's `transport: 'node'`), or OTAKIT_BENCH_AGENT_TRANSPORT. */
const AGENT_TRANSPORT = process.env.OTAKIT_BENCH_AGENT_TRANSPORT ?? 'node';
/** What that agent sets when its update starts, as `device run` does (none with OTAKIT_BENCH_AGENT_V8). */
const AGENT_UPDATE_V8_FLAGS = process.env.OTAKIT_BENCH_AGENT_V8 ? [] : [...UPDATE_V8_FLAGS];
const CLI = join(root, 'packages', 'cli', 'bin', 'otakit.cjs');
/**
 * Another build's bin (e.g. a checkout from before a change): its agent idles in the same run, and
 * its device client (that checkout's packages/device-client/dist) runs the staged update too.
 */
const BEFORE = process.env.OTAKIT_BENCH_BEFORE;
const BEFORE_CLIENT = BEFORE
  ? pathToFileURL(resolve(BEFORE, '../../../device-client/dist/index.js')).href
  : undefined;
const dist = (pkg: string) => pathToFileURL(join(root, 'packages', pkg, 'dist', 'index.js')).href;
const UNDICI = pathToFileURL(createRequire(join(root, 'package.json')).resolve('undici')).href;

/** The child: one activity (an agent update, possibly killed at a fraction, or a raw download). */
const CHILD = `
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
const peakRss = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const job = JSON.parse(process.env.OTAKIT_BENCH_JOB);
const start = process.hrtime.bigint();
const done = (extra) => {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ seconds, peakRss: peakRss(), ...extra }));
};
if (job.mode === 'raw') {
  const { request } = await import(job.undici);
  const res = await request(job.url);
  if (res.statusCode !== 200) throw new Error('raw download: HTTP ' + res.statusCode);
  await pipeline(res.body, createWriteStream(job.file));
  const fh = await open(job.file, 'r+');
  await fh.sync();
  await fh.close();
  done({ bytes: statSync(job.file).size });
} else {
  const { DeviceClient, SimulatedInstaller } = await import(job.deviceClient);
  const client = new DeviceClient({
    serverUrl: job.server, privateKey: job.key, identity: job.identity, deviceType: 'bench-device',
    dataDir: job.dataDir,
    installers: [new SimulatedInstaller({ dir: job.dataDir + '/device' })],
    poll: { updateIntervalMs: 1000, retry: { baseDelayMs: 200, maxDelayMs: 1000 } },
    download: { stage: job.stage !== false },
    ...(job.transport ? { transport: job.transport } : {}),
  });
  const ac = new AbortController();
  let networkBytes = 0;
  let outcome;
  client.events.on('download:progress', (e) => {
    networkBytes = e.networkBytes;
    if (job.killAt && e.totalBytes && e.bytes >= e.totalBytes * job.killAt) {
      done({ killed: true, networkBytes });
      process.kill(process.pid, 'SIGKILL');
    }
  });
  if (job.updateV8Flags) {
    // As \`otakit device run\` does (packages/cli/src/commands/device-v8.ts, optimiseFromFirstUpdate).
    const { setFlagsFromString } = await import('node:v8');
    client.events.once('update:start', () => { for (const f of job.updateV8Flags) setFlagsFromString(f); });
  }
  client.events.on('update:done', (e) => { outcome = e.outcome + (e.error ? ': ' + e.error : ''); ac.abort(); });
  await client.run({ signal: ac.signal });
  await client.close();
  if (outcome !== 'success') throw new Error('update ' + outcome);
  done({ networkBytes });
}
`;

interface Measure {
  seconds: number;
  peakRss: number;
  bytes?: number;
  networkBytes?: number;
  killed?: boolean;
}

/** Runs one child asynchronously: the sandbox serving it lives in this process's event loop. */
function runChild(job: Record<string, unknown>): Promise<Measure> {
  return new Promise((resolvePromise, reject) => {
    const nodeArgs = (job.nodeArgs as string[] | undefined) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', CHILD], {
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
    child.on('close', (code, signal) => {
      const last = stdout.trim().split('\n').pop();
      if ((code !== 0 && signal !== 'SIGKILL') || !last) {
        reject(new Error(`bench child ${String(job.mode)} failed (${code ?? signal}): ${stderr}`));
      } else resolvePromise(JSON.parse(last) as Measure);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mibps = (bytes: number, seconds: number) => `${(bytes / MIB / seconds).toFixed(0)} MiB/s`;
const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

/** VmRSS and VmHWM of a process, MiB. */
async function procRss(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/**
 * Resident memory of `pid` by mapping (OTAKIT_BENCH_IDLE_SMAPS=1): anonymous (the heaps, code
 * spaces, WebAssembly memory), the node binary's pages, and every other file, in MiB.
 */
async function smapsBreakdown(pid: number): Promise<Map<string, number>> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const sums = new Map<string, number>();
  let name = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1] ?? '';
      name = path === '' ? '[anon]' : path === process.execPath ? '[node binary]' : path;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums.set(name, (sums.get(name) ?? 0) + Number(rss[1]) / 1024);
  }
  return sums;
}

async function main(): Promise<void> {
  const core = await import(dist('core'));
  const { DeviceClient } = await import(dist('device-client'));
  const { startSandbox } = await import(dist('sandbox'));
  const dir = await mkdtemp(join(tmpdir(), 'otakit-bench-device-'));
  const sandbox = await startSandbox({ port: 0, dataDir: join(dir, 'sandbox') });
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
  const agentJob = (d: Awaited<ReturnType<typeof newDevice>>, extra: Record<string, unknown> = {}) => ({
    mode: 'agent',
    server: sandbox.url,
    key: d.key,
    identity: d.identity,
    dataDir: d.dataDir,
    ...extra,
  });
  try {
    if (!SKIP_UPDATE) {
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
      await rm(artifactPath);

      const kinds = [
        'raw',
        'agent',
        'flagged',
        'unstaged',
        'resumed',
        ...(BEFORE_CLIENT ? (['before'] as const) : []),
      ];
      const runs: Record<(typeof kinds)[number], Measure[]> = {
        raw: [],
        agent: [],
        flagged: [],
        unstaged: [],
        resumed: [],
        before: [],
      };
      const resumedNetwork: number[] = [];
      console.log(
        `artifact: ${(artifactBytes / MIB).toFixed(1)} MiB uncompressed rootfs-image over loopback, ${ROUNDS} rounds, load ${await load()}`,
      );
      for (let round = 0; round < ROUNDS; round++) {
        const devices = {
          raw: await newDevice(),
          agent: await newDevice(),
          flagged: await newDevice(),
          unstaged: await newDevice(),
          resumed: await newDevice(),
          before: await newDevice(),
        };
        await mgmt('POST', '/api/management/v1/deployments/deployments', {
          name: `bench-${round}`,
          artifact_name: 'bench-release',
          devices: Object.values(devices).map((d) => d.id),
        });
        // The raw download uses the same kind of signed link the agent gets.
        const r = devices.raw;
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
        const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]!);
        for (const kind of order) {
          const d = devices[kind];
          if (kind === 'raw') {
            const m = await runChild({
              mode: 'raw',
              url: next.artifact.source.uri,
              file: join(d.dataDir, 'raw.img'),
            });
            if (m.bytes !== artifactBytes)
              throw new Error(`raw download got ${m.bytes} of ${artifactBytes} bytes`);
            runs.raw.push(m);
          } else if (kind === 'resumed') {
            const first = await runChild(agentJob(d, { killAt: 0.5 }));
            if (!first.killed) throw new Error('the agent was not killed halfway');
            const second = await runChild(agentJob(d));
            runs.resumed.push({
              seconds: first.seconds + second.seconds,
              peakRss: Math.max(first.peakRss, second.peakRss),
            });
            resumedNetwork.push((first.networkBytes ?? 0) + (second.networkBytes ?? 0));
          } else if (kind === 'flagged') {
            runs.flagged.push(
              await runChild(
                agentJob(d, {
                  nodeArgs: AGENT_V8_FLAGS,
                  updateV8Flags: AGENT_UPDATE_V8_FLAGS,
                  transport: AGENT_TRANSPORT,
                }),
              ),
            );
          } else if (kind === 'before') {
            runs.before.push(await runChild(agentJob(d, { deviceClient: BEFORE_CLIENT })));
          } else {
            runs[kind].push(await runChild(agentJob(d, kind === 'unstaged' ? { stage: false } : {})));
          }
          await rm(d.dataDir, { recursive: true, force: true });
        }
      }
      const rawMedian = median(runs.raw.map((m) => m.seconds));
      const line = (label: string, ms: Measure[], ratio: boolean) => {
        const s = median(ms.map((m) => m.seconds));
        const ratios = ratio ? median(runs.raw.map((raw, i) => raw.seconds / ms[i]!.seconds)) : 1;
        console.log(
          `  ${label.padEnd(44)} ${mibps(artifactBytes, s).padStart(10)}  median ${s.toFixed(2)} s${ratio ? `  raw/agent ${ratios.toFixed(3)}` : ''}  peak RSS ${median(ms.map((m) => m.peakRss)).toFixed(1)} MiB`,
        );
        return ratios;
      };
      line('raw undici download to disk (fsynced)', runs.raw, false);
      const staged = line('agent: download+verify+install+commit', runs.agent, true);
      line(
        `agent with ${[...AGENT_V8_FLAGS, ...AGENT_UPDATE_V8_FLAGS.map((f) => `${f} at update`)].join(' ')}, transport ${AGENT_TRANSPORT}`,
        runs.flagged,
        true,
      );
      line('agent without staging (no restart resume)', runs.unstaged, true);
      line('agent killed at 50 % and resumed (both runs)', runs.resumed, true);
      if (BEFORE_CLIENT) line('agent of the BEFORE build (staged)', runs.before, true);
      console.log(
        `  resumed runs fetched ${(median(resumedNetwork) / artifactBytes).toFixed(3)} of the artifact over the network in all (1.0 = nothing fetched twice)`,
      );
      console.log(
        `  target raw/agent >= ${TARGET_RATIO}: ${staged >= TARGET_RATIO ? 'met' : 'NOT met'} (${staged.toFixed(3)}; raw median ${rawMedian.toFixed(2)} s)`,
      );
    }

    if (IDLE_SECONDS > 0) await idle(sandbox.url, newDevice);
  } finally {
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * An HTTPS reverse proxy to `target` (OTAKIT_BENCH_IDLE_TLS=1) on 127.0.0.1, its certificate (its
 * own CA) made by `openssl` in `dir`: its URL, the CA file to trust and how to stop it.
 */
async function tlsFront(target: string, dir: string): Promise<{ url: string; ca: string; close(): void }> {
  const ca = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    ca,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const upstream = new URL(target);
  const server = createHttpsServer({ key: await readFile(key), cert: await readFile(ca) }, (req, res) => {
    const up = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    ca,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** `otakit device run` idling next to a bare node (and OTAKIT_BENCH_BEFORE's build), started together. */
async function idle(
  sandboxUrl: string,
  newDevice: () => Promise<{ identity: { serial: string }; key: string; dataDir: string }>,
): Promise<void> {
  const front = IDLE_TLS
    ? await tlsFront(sandboxUrl, await mkdtemp(join(tmpdir(), 'otakit-bench-tls-')))
    : undefined;
  const server = front?.url ?? sandboxUrl;
  const env = { ...process.env, NODE_OPTIONS: process.env.OTAKIT_BENCH_IDLE_NODE_OPTIONS ?? '' };
  const bins: [string, string][] = [['otakit device run', CLI]];
  if (BEFORE) bins.push(['otakit device run (BEFORE)', BEFORE]);
  const procs: { label: string; child: ChildProcess; out: () => string }[] = [];
  for (const [label, bin] of bins) {
    const d = await newDevice();
    const keyPath = join(d.dataDir, 'device.key');
    await writeFile(keyPath, d.key, { mode: 0o600 });
    const args = [
      bin,
      'device',
      'run',
      '--server',
      server,
      '--key',
      keyPath,
      '--data-dir',
      join(d.dataDir, 'data'),
    ];
    args.push('--device-type', 'bench-device', '--identity', `serial=${d.identity.serial}`);
    args.push('--installer', `simulated:${join(d.dataDir, 'slots')}`, '--poll-interval', '1s');
    if (front) args.push('--ca', front.ca);
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
    });
    child.stderr!.on('data', (c) => {
      out += c;
    });
    procs.push({ label, child, out: () => out });
  }
  procs.push({
    label: 'bare node (a timer)',
    child: spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env, stdio: 'ignore' }),
    out: () => 'no update',
  });
  try {
    // RSS is sampled every second over the last third of the idle time (a GC can fall either side
    // of one reading); the median of the samples and the last one are printed.
    const samples = procs.map(() => [] as number[]);
    const sampleFrom = Math.floor((IDLE_SECONDS * 2) / 3);
    for (let t = 1; t <= IDLE_SECONDS; t++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (t < sampleFrom) continue;
      for (const [i, p] of procs.entries()) {
        if (p.child.exitCode !== null) throw new Error(`${p.label} exited: ${p.out()}`);
        samples[i]!.push((await procRss(p.child.pid!)).rss);
      }
    }
    console.log(
      `idle (${IDLE_SECONDS} s, polling every 1 s${front ? ' over HTTPS' : ''}, nothing deployed; load ${await load()}):`,
    );
    for (const [i, p] of procs.entries()) {
      if (!/no update/.test(p.out())) throw new Error(`${p.label} never polled: ${p.out()}`);
      const { rss, hwm } = await procRss(p.child.pid!);
      console.log(
        `  ${p.label.padEnd(30)} RSS median ${median(samples[i]!).toFixed(1)} MiB (last ${rss.toFixed(1)}), peak ${hwm.toFixed(1)} MiB`,
      );
      if (process.env.OTAKIT_BENCH_IDLE_SMAPS === '1') {
        const parts = [...(await smapsBreakdown(p.child.pid!))].sort((a, b) => b[1] - a[1]);
        for (const [name, mib] of parts.filter(([, mib]) => mib >= 0.1))
          console.log(`    ${mib.toFixed(1).padStart(6)} MiB  ${name}`);
      }
    }
    const hold = Number(process.env.OTAKIT_BENCH_IDLE_HOLD ?? 0);
    if (hold > 0) {
      // For a look from outside (e.g. /proc/PID/pagemap) while they idle.
      console.log(`  holding ${hold} s: ${procs.map((p) => `${p.label} pid ${p.child.pid}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, hold * 1000));
    }
    const agent = median(samples[0]!);
    const bare = median(samples.at(-1)!);
    console.log(
      `  agent over bare node: ${(agent - bare).toFixed(1)} MiB; target RSS <= ${TARGET_IDLE_MIB} MiB: ${agent <= TARGET_IDLE_MIB ? 'met' : 'NOT met'}`,
    );
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(
      procs.map((p) => (p.child.exitCode === null ? new Promise((r) => p.child.on('close', r)) : undefined)),
    );
    front?.close();
  }
}

await main();
