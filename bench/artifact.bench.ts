/**
 * Artifact benchmark: verify throughput of readArtifact against hashing the same file bytes with
 * node:crypto SHA-256 in the same run, and peak RSS.
 *
 * 1. Writes a signed 1 GiB artifact with an uncompressed payload and a signed gzip artifact (with a
 *    256 MiB payload, to keep the run short: gzip at mender-artifact's level 9 writes at ~13 MiB/s),
 *    both streamed by writeArtifact to temporary files.
 * 2. For each, alternately hashes the file with SHA-256 and verifies it with readArtifact (checks
 *    the signature and every checksum, hashing the payload), best of ROUNDS each.
 * 3. Prints throughputs, the ratio verify/hash (target >= 0.85 uncompressed) and peak RSS
 *    (target < 100 MiB), then deletes the temporary files.
 *
 * Every measured step runs in its own plain `node` child process (this file runs under tsx, whose
 * loader alone takes ~80 MiB), so each peak RSS is that of one activity: Node with @otakit/core
 * loaded (the baseline, printed too) plus what the activity needs.
 *
 * Run after `pnpm build`: `pnpm bench artifact`. Sizes: OTAKIT_BENCH_MIB, OTAKIT_BENCH_GZIP_MIB.
 */

import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const MIB = 1024 * 1024;
const PAYLOAD_MIB = Number(process.env.OTAKIT_BENCH_MIB ?? 1024);
const GZIP_PAYLOAD_MIB = Number(process.env.OTAKIT_BENCH_GZIP_MIB ?? 256);
const ROUNDS = 3;
// bench/ is not a workspace package: the built @otakit/core is loaded from its dist.
const DIST = pathToFileURL(resolve(import.meta.dirname, '../packages/core/dist/index.js')).href;

/** The child: one activity (write, hash or verify), timed, with its peak RSS. */
const CHILD = `
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
const job = JSON.parse(process.env.OTAKIT_BENCH_JOB);
const { readArtifact, writeArtifact } = await import(job.dist);
// Peak RSS of this process image: VmHWM. (ru_maxrss survives exec on Linux, so in a child it
// would report the tsx parent's RSS at fork time.)
function peakRssMiB() {
  const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}
const baseRss = peakRssMiB();
async function* payload(mib) {
  for (let i = 0; i < mib; i++) {
    const block = Buffer.allocUnsafe(${MIB});
    randomFillSync(block);
    yield block;
  }
}
const start = process.hrtime.bigint();
if (job.mode === 'write') {
  await writeArtifact({
    type: 'module-image', moduleType: 'bench', artifactName: 'bench-' + job.compression,
    deviceTypes: ['bench-device'], compression: job.compression, tmpDir: job.dir,
    signingKey: readFileSync(job.key, 'utf8'),
    files: [{ name: 'payload.bin', size: job.mib * ${MIB}, stream: payload(job.mib) }],
  }, job.path);
} else if (job.mode === 'hash') {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(job.path)) hash.update(chunk);
  hash.digest();
} else {
  const info = await readArtifact(createReadStream(job.path), { trustedKeys: [readFileSync(job.pub, 'utf8')] });
  if (!info.signatureVerified || info.files.length !== 1) throw new Error('verification did not happen');
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ seconds, baseRss, peakRss: peakRssMiB() }));
`;

interface Measure {
  seconds: number;
  baseRss: number;
  peakRss: number;
}

function runChild(job: Record<string, unknown>): Measure {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, NODE_OPTIONS: '', OTAKIT_BENCH_JOB: JSON.stringify({ dist: DIST, ...job }) },
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`bench child ${String(job.mode)} failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as Measure;
}

function mibps(bytes: number, seconds: number): string {
  return `${(bytes / MIB / seconds).toFixed(0)} MiB/s`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-bench-artifact-'));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = join(dir, 'bench.key');
  const pub = join(dir, 'bench.pub');
  await writeFile(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  let missed = false;
  let peak = 0;
  try {
    for (const [label, compression, mib] of [
      ['uncompressed', 'none', PAYLOAD_MIB],
      ['gzip', 'gzip', GZIP_PAYLOAD_MIB],
    ] as const) {
      const path = join(dir, `${label}.mender`);
      const write = runChild({ mode: 'write', compression, mib, path, dir, key });
      const bytes = (await stat(path)).size;
      let hash: Measure | undefined;
      let verify: Measure | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const h = runChild({ mode: 'hash', path });
        const v = runChild({ mode: 'verify', path, pub });
        if (!hash || h.seconds < hash.seconds) hash = h;
        if (!verify || v.seconds < verify.seconds) verify = v;
        peak = Math.max(peak, v.peakRss);
      }
      const ratio = hash!.seconds / verify!.seconds;
      console.log(
        `${label}: payload ${mib} MiB, artifact ${(bytes / MIB).toFixed(1)} MiB, written in ${write.seconds.toFixed(1)} s (${mibps(mib * MIB, write.seconds)}), writer peak RSS ${write.peakRss.toFixed(1)} MiB`,
      );
      console.log(
        `  sha256 of the file bytes: ${mibps(bytes, hash!.seconds)} (best of ${ROUNDS}), peak RSS ${hash!.peakRss.toFixed(1)} MiB`,
      );
      console.log(
        `  readArtifact verify:      ${mibps(bytes, verify!.seconds)} (best of ${ROUNDS}), peak RSS ${verify!.peakRss.toFixed(1)} MiB`,
      );
      console.log(
        `  ratio verify/hash: ${ratio.toFixed(3)}${label === 'uncompressed' ? ' (target >= 0.85)' : ''}`,
      );
      console.log(`  baseline RSS (node + @otakit/core loaded): ${verify!.baseRss.toFixed(1)} MiB`);
      if (label === 'uncompressed' && ratio < 0.85) missed = true;
      await rm(path, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`verify peak RSS: ${peak.toFixed(1)} MiB (target < 100 MiB)`);
  if (peak >= 100) missed = true;
  console.log(missed ? 'artifact bench: a target was missed' : 'artifact bench: targets met');
}

await main();
