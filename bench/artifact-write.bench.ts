/**
 * xz write benchmark: the encoders otakit could use to write `.xz` artifact members on Node 20,
 * compared on the same payloads in the same run.
 *
 * - `xz CLI, file to file` (baseline, the fastest honest one): `xz -6 -T1` reading the payload
 *   file and writing the output file itself, no Node stream in between.
 * - `otakit: system xz -T1` (the choice, `createCompressor('xz')`): the payload streamed by Node
 *   through the spawned xz's stdin/stdout.
 * - `otakit: system xz -T0`: the same with one thread per core (a multi-block stream).
 * - `node-liblzma/wasm` (liblzma compiled to WebAssembly, what core used before; LGPL-3.0, and
 *   npm skips it on Node 20 because of its engines >= 22, so it is not an option for users; it is a
 *   devDependency here for this comparison only).
 * - `gzip -9 (node:zlib)`: the default artifact compression, for scale.
 *
 * Ratios are against the baseline's median in the same run, for wall time and for CPU time (node
 * plus its xz child, user + system, from /proc/self/stat after xz was reaped); CPU time barely
 * moves with machine load, unlike wall time, so it is the figure to compare on a busy machine.
 * Payloads: SIZE MiB of compressible bytes (text-like lines with some variety) and SIZE MiB of
 * random bytes. Each measured run is its own `node` process; ROUNDS interleaved rounds, medians.
 * Peak RSS: the Node process's VmHWM, plus the xz child's VmHWM (sampled from /proc every 20 ms;
 * VmHWM only grows, so the last sample is the peak). Every xz output is decoded again with the
 * system `xz -d` and with otakit's reader decoder and compared (SHA-256) with the payload, and one
 * full `writeArtifact(..., compression 'xz')` is read back by `readArtifact`.
 *
 * Run after `pnpm build`: `pnpm bench artifact-write`. Size: OTAKIT_BENCH_XZ_MIB (default 64);
 * rounds: OTAKIT_BENCH_ROUNDS (default 3).
 */

import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.OTAKIT_BENCH_XZ_MIB ?? 64);
const ROUNDS = Number(process.env.OTAKIT_BENCH_ROUNDS ?? 3);
const CORE = resolve(import.meta.dirname, '../packages/core');
const DIST = pathToFileURL(join(CORE, 'dist/index.js')).href;
/** node-liblzma is a devDependency of core: resolve it from there. */
const LIBLZMA_WASM = (() => {
  try {
    return pathToFileURL(createRequire(join(CORE, 'package.json')).resolve('node-liblzma/wasm')).href;
  } catch {
    return undefined;
  }
})();

/** One encoder run in a plain node child: time, Node's VmHWM, the xz child's VmHWM. */
const CHILD = `
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, openSync, readFileSync, readdirSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
const job = JSON.parse(process.env.OTAKIT_BENCH_JOB);
const hwm = (pid) => { try { const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/' + pid + '/status', 'utf8')); return m ? Number(m[1]) / 1024 : 0; } catch { return 0; } };
// Samples the VmHWM of this process's xz child: found by one /proc scan, then polled.
let xzPeak = 0;
let xzPid;
const sampler = setInterval(() => {
  if (xzPid === undefined) {
    for (const e of readdirSync('/proc')) {
      if (!/^\\d+$/.test(e)) continue;
      let st; try { st = readFileSync('/proc/' + e + '/stat', 'utf8'); } catch { continue; }
      const m = /^\\d+ \\((.*)\\) \\S+ (\\d+)/.exec(st);
      if (m && m[1] === 'xz' && Number(m[2]) === process.pid) xzPid = e;
    }
  }
  if (xzPid !== undefined) xzPeak = Math.max(xzPeak, hwm(xzPid));
}, 20);
/** CPU seconds of this process and of its reaped children (xz), from /proc/self/stat. */
const cpu = () => { const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' '); return { self: (Number(f[11]) + Number(f[12])) / 100, children: (Number(f[13]) + Number(f[14])) / 100 }; };
let compressor;
if (job.mode === 'xz-cli') {
  // Not through Node: xz reads and writes the files itself.
} else if (job.mode === 'xz-t1' || job.mode === 'xz-t0') {
  const { createXzProcessCompressor } = await import(job.dist);
  compressor = await createXzProcessCompressor({ threads: job.mode === 'xz-t1' ? 1 : 0 });
} else if (job.mode === 'wasm') {
  const xz = await import(job.wasm);
  await xz.initModule();
  const web = xz.createXz({ preset: 6, check: xz.LZMA_CHECK_CRC64 });
  const writer = web.writable.getWriter();
  const reader = web.readable.getReader();
  compressor = new Transform({
    transform(chunk, _e, done) { writer.write(chunk).then(() => done(), done); },
    flush(done) { writer.close().then(() => pump).then(() => done(), done); },
  });
  const pump = (async () => { for (;;) { const { done, value } = await reader.read(); if (done) return; compressor.push(Buffer.from(value)); } })();
} else if (job.mode === 'gzip') {
  compressor = createGzip({ level: 9 });
}
const cpu0 = cpu();
const start = process.hrtime.bigint();
if (compressor) {
  await pipeline(createReadStream(job.input, { highWaterMark: 1 << 20 }), compressor, createWriteStream(job.output));
} else {
  await new Promise((resolve, reject) => {
    const child = spawn('xz', ['-6', '-T1', '--check=crc64', '-c', job.input], { stdio: ['ignore', openSync(job.output, 'w'), 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('xz exited ' + code))));
  });
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
clearInterval(sampler);
const used = cpu();
console.log(JSON.stringify({ seconds, cpuSeconds: used.self - cpu0.self + used.children - cpu0.children, nodePeak: hwm('self'), xzPeak }));
`;

interface Measure {
  seconds: number;
  /** CPU time of the node process and its xz child, user + system. */
  cpuSeconds: number;
  nodePeak: number;
  xzPeak: number;
}

interface Encoder {
  label: string;
  mode: string;
  xz: boolean;
}

function runChild(job: Record<string, unknown>): Measure {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      OTAKIT_BENCH_JOB: JSON.stringify({ dist: DIST, wasm: LIBLZMA_WASM, ...job }),
    },
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`bench child ${String(job.mode)} failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as Measure;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return hash.digest('hex');
}

/** Writes SIZE_MIB of compressible or random bytes. */
async function writePayload(path: string, kind: 'compressible' | 'random'): Promise<void> {
  async function* blocks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < SIZE_MIB; i++) {
      if (kind === 'random') {
        yield randomFillSync(Buffer.allocUnsafe(MIB));
        continue;
      }
      const lines: string[] = [];
      let size = 0;
      for (let n = 0; size < MIB; n++) {
        const line = `${i}.${n} sensor=${(n * 7919) % 1000} state=${n % 3 ? 'ok' : 'degraded'} /usr/lib/app/module-${n % 97}.so\n`;
        lines.push(line);
        size += line.length;
      }
      yield Buffer.from(lines.join('')).subarray(0, MIB);
    }
  }
  await pipeline(blocks(), createWriteStream(path));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-bench-xz-'));
  const core = (await import(DIST)) as typeof import('@otakit/core');
  const encoders: Encoder[] = [
    { label: 'xz CLI, file to file (baseline)', mode: 'xz-cli', xz: true },
    { label: 'otakit: system xz -T1 (chosen)', mode: 'xz-t1', xz: true },
    { label: 'otakit: system xz -T0', mode: 'xz-t0', xz: true },
    ...(LIBLZMA_WASM ? [{ label: 'node-liblzma/wasm (LGPL, Node>=22)', mode: 'wasm', xz: true }] : []),
    { label: 'gzip -9 (node:zlib)', mode: 'gzip', xz: false },
  ];
  console.log(
    `${SIZE_MIB} MiB payloads, ${ROUNDS} interleaved rounds, medians; peak RSS = node VmHWM + xz child VmHWM`,
  );
  try {
    for (const kind of ['compressible', 'random'] as const) {
      const input = join(dir, `${kind}.bin`);
      await writePayload(input, kind);
      const expected = await sha256File(input);
      const runs = new Map<Encoder, Measure[]>(encoders.map((e) => [e, []]));
      const sizes = new Map<Encoder, number>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const e of encoders) {
          const output = join(dir, `${kind}.${e.mode}.out`);
          runs.get(e)?.push(runChild({ mode: e.mode, input, output }));
          sizes.set(e, (await stat(output)).size);
          if (round === 0 && e.xz) {
            // Decodes with the real xz and with otakit's reader decoder.
            const real = spawnSync('sh', ['-c', `xz -dc '${output}' | sha256sum`], { encoding: 'utf8' });
            if (real.stdout.split(' ')[0] !== expected) throw new Error(`${e.label}: xz -d gave other bytes`);
            const hash = createHash('sha256');
            for await (const chunk of core.decompressor('lzma')(createReadStream(output), 'bench.xz'))
              hash.update(chunk);
            if (hash.digest('hex') !== expected)
              throw new Error(`${e.label}: otakit's decoder gave other bytes`);
          }
          await rm(output, { force: true });
        }
      }
      const baseRuns = runs.get(encoders[0] as Encoder) ?? [];
      const base = median(baseRuns.map((m) => m.seconds));
      const baseCpu = median(baseRuns.map((m) => m.cpuSeconds));
      console.log(`\n${kind} payload (${SIZE_MIB} MiB):`);
      for (const e of encoders) {
        const ms = runs.get(e) ?? [];
        const s = median(ms.map((m) => m.seconds));
        const c = median(ms.map((m) => m.cpuSeconds));
        const nodePeak = median(ms.map((m) => m.nodePeak));
        const xzPeak = median(ms.map((m) => m.xzPeak));
        const ratio = ((sizes.get(e) ?? 0) / (SIZE_MIB * MIB)).toFixed(3);
        console.log(
          `  ${e.label.padEnd(38)} ${s.toFixed(2).padStart(6)} s wall x${(s / base).toFixed(2)}  ${c.toFixed(2).padStart(6)} s CPU x${(c / baseCpu).toFixed(2)}  ${(SIZE_MIB / s).toFixed(1).padStart(5)} MiB/s` +
            `  out/in ${ratio}  peak RSS node ${nodePeak.toFixed(1)} MiB${e.mode === 'xz-cli' ? ' (idle parent)' : ''}` +
            `${xzPeak > 0 ? ` + xz ${xzPeak.toFixed(1)} MiB` : ''}`,
        );
      }
      await rm(input, { force: true });
    }
    // One real artifact: written with xz, read back and verified.
    const out = join(dir, 'xz.mender');
    const payload = join(dir, 'rootfs.bin');
    await writePayload(payload, 'compressible');
    await core.writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: 'bench-xz',
        deviceTypes: ['bench'],
        compression: 'xz',
        files: [payload],
      },
      out,
    );
    const info = await core.readArtifact(createReadStream(out));
    if (info.files[0]?.sha256 !== (await sha256File(payload))) throw new Error('artifact round trip failed');
    console.log(`\nwriteArtifact(xz) -> readArtifact round trip of ${SIZE_MIB} MiB: checksums verified`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
