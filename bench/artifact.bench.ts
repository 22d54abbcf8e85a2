/**
 * Artifact validate benchmark: `otakit artifact validate -k` (the built CLI, as users run it)
 * against the hash limit, for none, gzip, zstd and xz, with an incompressible and a compressible
 * payload.
 *
 * The hash limit: node:crypto SHA-256 of the same artifact file read with 1 MiB synchronous reads,
 * in a fresh `node` process. Nothing that checks an artifact can be faster than reading and hashing
 * its bytes once (validate hashes the payload, not the file, but they are the same size).
 *
 * 1. Writes a rootfs-image artifact per payload kind with @otakit/core (uncompressed), then
 *    repacks it per compression: `header.tar` and `data/0000.tar` compressed by the system `gzip`,
 *    `zstd` and `xz` (a compression whose tool is missing is skipped), the manifest's header line
 *    rewritten, the manifest signed with a fresh RSA-3072 key (as in issue 15).
 * 2. Per file, REPS paired repetitions, interleaved (the order flips every repetition so machine
 *    load weighs on both alike): the hash limit, then `otakit artifact validate -k`, each in its own
 *    process with a preload that reports, at exit, its peak RSS (VmHWM) and CPU time (user + system,
 *    every thread). Wall time runs from spawn to exit.
 * 3. Prints medians, the median of the paired ratios validate/limit (wall and CPU time; CPU time
 *    barely moves with machine load) and validate's peak RSS, against issue 15's targets: wall
 *    <= 1.5x uncompressed (stretch 1.2x), <= 1.6x for gzip and zstd on the incompressible payload,
 *    peak RSS <= 48 MiB.
 *
 * xz and zstd members are decoded by the system `xz` and `zstd` in a child process (see core's
 * `decoder-process.ts`), whose memory the preload cannot see: for those the bench also runs that
 * decoder alone on the file's `data/0000.tar.xz|zst` (with the arguments the reader gives it)
 * under GNU time and prints its peak RSS next to validate's, which is the parent's only. With
 * OTAKIT_ZSTD=/nonexistent the reader falls back to its WebAssembly zstd decoder (in-process, no
 * child figure then).
 *
 * From a file, `dd` reads a zstd or xz data member straight into the decoder (core's
 * `range-decoder.ts`); its peak RSS is printed the same way. For those compressions each
 * repetition also runs validate with OTAKIT_DD=/nonexistent: the path a stream source takes (the
 * reader reads the member and feeds the decoder), the "before" of the file path, paired in the
 * same run (OTAKIT_BENCH_STREAM_PATH=0 leaves it out).
 *
 * With MENDER_ARTIFACT=/path/to/mender-artifact, `mender-artifact validate -k` runs on the same files
 * in the same repetitions (its peak RSS from GNU time when /usr/bin/time exists).
 *
 * Run after `pnpm build`: `pnpm bench artifact`. Env: OTAKIT_BENCH_MIB (payload size, default 512),
 * OTAKIT_BENCH_REPS (default 5), OTAKIT_BENCH_COMPRESSIONS (default none,gzip,zstd,xz),
 * OTAKIT_BENCH_PAYLOADS (default random,compressible), OTAKIT_BENCH_STREAM_PATH (default 1),
 * MENDER_ARTIFACT.
 */

import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';

const MIB = 1024 * 1024;
const PAYLOAD_MIB = Number(process.env.OTAKIT_BENCH_MIB ?? 512);
const REPS = Number(process.env.OTAKIT_BENCH_REPS ?? 5);
const COMPRESSIONS = (process.env.OTAKIT_BENCH_COMPRESSIONS ?? 'none,gzip,zstd,xz').split(',');
const PAYLOADS = (process.env.OTAKIT_BENCH_PAYLOADS ?? 'random,compressible').split(',');
const MENDER_ARTIFACT = process.env.MENDER_ARTIFACT;
const STREAM_PATH = process.env.OTAKIT_BENCH_STREAM_PATH !== '0';
/** Validate with no dd: the reader feeds the decoder (the path of a stream source). */
const NO_DD = { OTAKIT_DD: '/nonexistent/otakit-bench/dd' };
const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'packages', 'cli', 'bin', 'otakit.cjs');
// bench/ is not a workspace package: the built @otakit/core is loaded from its dist.
const CORE = pathToFileURL(join(ROOT, 'packages', 'core', 'dist', 'index.js')).href;
const ENV = { ...process.env, NODE_OPTIONS: '' };
const TARGET_RSS_MIB = 48;

/** Per compression: the tool, its arguments (stdin to stdout) and the member suffix. */
const TOOLS: Record<string, { suffix: string; cmd?: string[] }> = {
  none: { suffix: '' },
  gzip: { suffix: '.gz', cmd: ['gzip', '-c', '-6'] },
  zstd: { suffix: '.zst', cmd: ['zstd', '-c', '-q', '-3'] },
  // xz's decoding speed hardly depends on the preset; -1 keeps writing 512 MiB short.
  xz: { suffix: '.xz', cmd: ['xz', '-c', '-1', '-T0'] },
};

/** The hash limit: SHA-256 of a file read with 1 MiB synchronous reads. */
const HASH_LIMIT = `
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const fd = openSync(process.argv[2]);
const buf = Buffer.allocUnsafe(1 << 20);
const hash = createHash('sha256');
for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
closeSync(fd);
hash.digest('hex');
`;

/** Preload: prints peak RSS and CPU time of the process at exit. */
const PRELOAD = `process.on('exit', () => {
  const u = process.cpuUsage();
  const m = /VmHWM:\\s*(\\d+) kB/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'));
  process.stderr.write('\\nBENCH rss:' + (m ? m[1] : 0) + ' cpu:' + (u.user + u.system) + '\\n');
});`;

interface Run {
  wall: number;
  cpu: number;
  rss: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs a node process with the preload; wall from spawn to exit, CPU and RSS from the preload. */
function runNode(args: string[], preload: string, env: Record<string, string> = {}): Run {
  const start = process.hrtime.bigint();
  const res = spawnSync(process.execPath, ['--require', preload, ...args], {
    env: { ...ENV, ...env },
    encoding: 'utf8',
  });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  const m = /BENCH rss:(\d+) cpu:(\d+)/.exec(res.stderr);
  if (res.status !== 0 || m === null) throw new Error(`${args.join(' ')} failed: ${res.stdout}${res.stderr}`);
  return { wall, rss: Number(m[1]) / 1024, cpu: Number(m[2]) / 1000 };
}

/** Runs mender-artifact validate; peak RSS and CPU time from GNU time when it is there. */
function runMenderArtifact(file: string, pub: string): Run {
  const gnuTime = existsSync('/usr/bin/time');
  const args = ['validate', '-k', pub, file];
  const start = process.hrtime.bigint();
  const res = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', 'BENCH rss:%M cpu:%U %S', MENDER_ARTIFACT!, ...args], {
        encoding: 'utf8',
      })
    : spawnSync(MENDER_ARTIFACT!, args, { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status !== 0) throw new Error(`mender-artifact validate failed: ${res.stdout}${res.stderr}`);
  const m = /BENCH rss:(\d+) cpu:([\d.]+) ([\d.]+)/.exec(res.stderr);
  return m
    ? { wall, rss: Number(m[1]) / 1024, cpu: (Number(m[2]) + Number(m[3])) * 1000 }
    : { wall, rss: Number.NaN, cpu: Number.NaN };
}

/** A payload of `mib` MiB: random bytes, or text-like bytes (words drawn at random from 512). */
async function* payload(kind: string, mib: number): AsyncGenerator<Buffer> {
  const words = Array.from({ length: 512 }, (_, i) =>
    Buffer.from(`${i.toString(36)}word${(i * 7919) % 997} `),
  );
  const rnd = Buffer.allocUnsafe(MIB);
  for (let i = 0; i < mib; i++) {
    const block = Buffer.allocUnsafe(MIB);
    randomFillSync(kind === 'random' ? block : rnd);
    if (kind !== 'random') {
      let pos = 0;
      for (let r = 0; pos < MIB; r = (r + 2) % (MIB - 1)) {
        const w = words[((rnd[r]! << 8) | rnd[r + 1]!) & 511]!;
        pos += w.copy(block, pos);
      }
    }
    yield block;
  }
}

/** The members of an outer tar: name, offset of the body, size. */
async function members(path: string): Promise<{ name: string; offset: number; size: number }[]> {
  const fh = await open(path, 'r');
  const out: { name: string; offset: number; size: number }[] = [];
  try {
    const block = Buffer.alloc(512);
    for (let offset = 0; ; ) {
      await fh.read(block, 0, 512, offset);
      if (block.every((b) => b === 0)) return out;
      const name = block.toString('latin1', 0, 100).replace(/\0.*$/s, '');
      const size = Number.parseInt(block.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim(), 8);
      out.push({ name, offset: offset + 512, size });
      offset += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    await fh.close();
  }
}

/** A ustar header for a regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const padding = (size: number) => Buffer.alloc((512 - (size % 512)) % 512);

/** Copies `size` bytes at `offset` of `src` through `cmd` (or unchanged) into `dst`. */
async function compressRange(
  src: string,
  offset: number,
  size: number,
  cmd: string[] | undefined,
  dst: string,
) {
  const input = createReadStream(src, { start: offset, end: offset + size - 1, highWaterMark: MIB });
  if (!cmd) return pipeline(input, createWriteStream(dst));
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((ok) => child.on('close', ok));
  await Promise.all([pipeline(input, child.stdin), pipeline(child.stdout, createWriteStream(dst))]);
  if ((await exited) !== 0) throw new Error(`${cmd.join(' ')} failed`);
}

/** Repacks the uncompressed `base` artifact with `compression`, signed by `key`. */
async function repack(
  base: string,
  compression: string,
  key: string,
  dir: string,
  out: string,
): Promise<void> {
  const { signManifest } = (await import(CORE)) as typeof import('@otakit/core');
  const tool = TOOLS[compression]!;
  const list = await members(base);
  const body = async (m: { offset: number; size: number }) => {
    const fh = await open(base, 'r');
    const buf = Buffer.alloc(m.size);
    await fh.read(buf, 0, m.size, m.offset);
    await fh.close();
    return buf;
  };
  const version = await body(list.find((m) => m.name === 'version')!);
  let manifest = (await body(list.find((m) => m.name === 'manifest')!)).toString('utf8');
  const parts: { name: string; file: string }[] = [];
  for (const m of list.filter((m) => m.name === 'header.tar' || m.name.startsWith('data/'))) {
    const file = join(dir, `part-${parts.length}`);
    await compressRange(base, m.offset, m.size, tool.cmd, file);
    parts.push({ name: `${m.name}${tool.suffix}`, file });
  }
  const header = parts[0]!;
  const headerSha = createHash('sha256')
    .update(await readFile(header.file))
    .digest('hex');
  manifest = manifest.replace(/^[0-9a-f]{64} {2}header\.tar\n/m, `${headerSha}  ${header.name}\n`);
  const manifestBytes = Buffer.from(manifest);
  const signature = Buffer.from(signManifest(manifestBytes, key), 'ascii');
  const ws = createWriteStream(out);
  const write = (b: Buffer) => new Promise<void>((ok, fail) => ws.write(b, (e) => (e ? fail(e) : ok())));
  for (const [name, b] of [
    ['version', version],
    ['manifest', manifestBytes],
    ['manifest.sig', signature],
  ] as const) {
    await write(tarHeader(name, b.length));
    await write(b);
    await write(padding(b.length));
  }
  for (const p of parts) {
    const size = (await stat(p.file)).size;
    await write(tarHeader(p.name, size));
    await pipeline(createReadStream(p.file, { highWaterMark: MIB }), ws, { end: false });
    await write(padding(size));
    await rm(p.file);
  }
  await write(Buffer.alloc(1024));
  await new Promise<void>((ok) => ws.end(ok));
}

/** The decoder child the reader starts per compression (see core's xz-process.ts, zstd-process.ts). */
const CHILD_DECODERS: Record<string, { suffix: string; cmd: string }> = {
  xz: {
    suffix: '.xz',
    cmd: 'xz --decompress --stdout --format=xz --threads=1 --memlimit-decompress=134217728 --no-warn',
  },
  zstd: { suffix: '.zst', cmd: 'zstd --decompress --stdout --quiet --memory=134217728' },
};

/** Peak RSS (MiB) of `dd` reading the file's data member as the reader has it read (run alone). */
async function ddPeakMib(file: string, compression: string): Promise<number | undefined> {
  const decoder = CHILD_DECODERS[compression];
  if (!decoder || !existsSync('/usr/bin/time')) return undefined;
  const data = (await members(file)).find((m) => m.name === `data/0000.tar${decoder.suffix}`);
  if (!data) return undefined;
  const res = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      'BENCH rss:%M',
      'sh',
      '-c',
      `exec dd iflag=skip_bytes,count_bytes skip=${data.offset} count=${data.size} bs=131072 status=none < "$0" > /dev/null`,
      file,
    ],
    { encoding: 'utf8' },
  );
  const m = /BENCH rss:(\d+)/.exec(res.stderr);
  return res.status === 0 && m ? Number(m[1]) / 1024 : undefined;
}

/** Peak RSS (MiB) of the decoder child the reader starts, run alone on the file's data member. */
async function childPeakMib(file: string, compression: string, dir: string): Promise<number | undefined> {
  const decoder = CHILD_DECODERS[compression];
  if (!decoder || !existsSync('/usr/bin/time')) return undefined;
  const data = (await members(file)).find((m) => m.name === `data/0000.tar${decoder.suffix}`);
  if (!data) return undefined;
  const part = join(dir, `member${decoder.suffix}`);
  await compressRange(file, data.offset, data.size, undefined, part);
  const res = spawnSync(
    '/usr/bin/time',
    ['-f', 'BENCH rss:%M', 'sh', '-c', `exec ${decoder.cmd} < "$0" > /dev/null`, part],
    { encoding: 'utf8' },
  );
  await rm(part);
  const m = /BENCH rss:(\d+)/.exec(res.stderr);
  return res.status === 0 && m ? Number(m[1]) / 1024 : undefined;
}

function fmt(run: Run): string {
  return `${(run.wall / 1000).toFixed(3)} s wall, ${(run.cpu / 1000).toFixed(3)} s CPU, ${run.rss.toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-bench-artifact-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pub = join(dir, 'verify.pub');
  const preload = join(dir, 'peak.cjs');
  const hashScript = join(dir, 'hash-limit.cjs');
  await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(preload, PRELOAD);
  await writeFile(hashScript, HASH_LIMIT);
  const { writeArtifact } = (await import(CORE)) as typeof import('@otakit/core');
  const missed: string[] = [];
  console.log(
    `payload ${PAYLOAD_MIB} MiB, ${REPS} paired interleaved repetitions, medians; ratios are medians of the paired ratios`,
  );
  try {
    for (const kind of PAYLOADS) {
      const base = join(dir, `${kind}-base.mender`);
      await writeArtifact(
        {
          type: 'rootfs-image',
          artifactName: `bench-${kind}`,
          deviceTypes: ['bench-device'],
          compression: 'none',
          tmpDir: dir,
          files: [{ name: 'rootfs.img', size: PAYLOAD_MIB * MIB, stream: payload(kind, PAYLOAD_MIB) }],
        },
        base,
      );
      for (const compression of COMPRESSIONS) {
        const tool = TOOLS[compression];
        if (!tool) throw new Error(`unknown compression ${compression}`);
        if (tool.cmd && spawnSync(tool.cmd[0]!, ['--version']).status !== 0) {
          console.log(`${kind} ${compression}: skipped (no ${tool.cmd[0]} on PATH)`);
          continue;
        }
        const file = join(dir, `${kind}-${compression}.mender`);
        await repack(base, compression, key, dir, file);
        const size = (await stat(file)).size;
        const limit: Run[] = [];
        const validate: Run[] = [];
        const fed: Run[] = [];
        const mender: Run[] = [];
        const validateArgs = [CLI, 'artifact', 'validate', '-k', pub, file];
        const runs = [
          () => limit.push(runNode([hashScript, file], preload)),
          () => validate.push(runNode(validateArgs, preload)),
        ];
        if (STREAM_PATH && compression in CHILD_DECODERS) {
          runs.push(() => fed.push(runNode(validateArgs, preload, NO_DD)));
        }
        for (let rep = 0; rep < REPS; rep++) {
          // The order rotates every repetition, so machine load weighs on each alike.
          for (let i = 0; i < runs.length; i++) runs[(rep + i) % runs.length]!();
          if (MENDER_ARTIFACT) mender.push(runMenderArtifact(file, pub));
        }
        const med = (runs: Run[]): Run => ({
          wall: median(runs.map((r) => r.wall)),
          cpu: median(runs.map((r) => r.cpu)),
          rss: Math.max(...runs.map((r) => r.rss)),
        });
        const ratio = (runs: Run[], k: 'wall' | 'cpu') => median(runs.map((r, i) => r[k] / limit[i]![k]));
        const wallRatio = ratio(validate, 'wall');
        const target =
          compression === 'none' ? 1.5 : kind === 'random' && compression !== 'xz' ? 1.6 : undefined;
        const v = med(validate);
        const inflated =
          size < PAYLOAD_MIB * MIB * 0.9
            ? ` (decompresses to ${PAYLOAD_MIB} MiB; the limit hashes the file)`
            : '';
        console.log(`\n${kind} payload, ${compression}: artifact ${(size / MIB).toFixed(1)} MiB${inflated}`);
        console.log(`  hash limit:               ${fmt(med(limit))}`);
        console.log(`  otakit artifact validate: ${fmt(v)} (RSS: max of the runs)`);
        console.log(
          `  validate/limit: wall ${wallRatio.toFixed(2)}x, CPU ${ratio(validate, 'cpu').toFixed(2)}x${target ? ` (target <= ${target}x${compression === 'none' ? ', stretch 1.2x' : ''})` : ''}; peak RSS ${v.rss.toFixed(1)} MiB (target <= ${TARGET_RSS_MIB})`,
        );
        // As the reader decides: the program named by OTAKIT_XZ / OTAKIT_ZSTD (else on PATH) starts.
        const program = compression === 'xz' ? process.env.OTAKIT_XZ : process.env.OTAKIT_ZSTD;
        const usesChild =
          compression in CHILD_DECODERS && spawnSync(program || compression, ['--version']).status === 0;
        if (fed.length > 0) {
          const f = med(fed);
          console.log(`  validate, reader feeds the decoder (no dd: the stream path): ${fmt(f)}`);
          console.log(
            `  stream path/limit: wall ${ratio(fed, 'wall').toFixed(2)}x, CPU ${ratio(fed, 'cpu').toFixed(2)}x; file path/stream path: wall ${median(validate.map((r, i) => r.wall / fed[i]!.wall)).toFixed(2)}x`,
          );
        }
        if (usesChild) {
          const child = await childPeakMib(file, compression, dir);
          const ddChild = await ddPeakMib(file, compression);
          const mib = (v: number | undefined) =>
            v === undefined ? 'n/a (needs /usr/bin/time)' : `${v.toFixed(1)} MiB`;
          console.log(
            `  children (each measured alone on the data member): ${compression} peak RSS ${mib(child)}, dd ${mib(ddChild)}; validate's figure above is the parent's only`,
          );
        }
        if (MENDER_ARTIFACT) {
          console.log(`  mender-artifact validate: ${fmt(med(mender))}`);
          console.log(
            `  otakit/mender-artifact: wall ${median(validate.map((r, i) => r.wall / mender[i]!.wall)).toFixed(2)}x`,
          );
        }
        if (target !== undefined && wallRatio > target)
          missed.push(`${kind} ${compression} wall ${wallRatio.toFixed(2)}x`);
        if (v.rss > TARGET_RSS_MIB) missed.push(`${kind} ${compression} RSS ${v.rss.toFixed(1)} MiB`);
        await rm(file);
      }
      await rm(base);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    missed.length
      ? `\nartifact bench: targets missed: ${missed.join('; ')}`
      : '\nartifact bench: targets met',
  );
}

await main();
