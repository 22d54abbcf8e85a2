/**
 * CLI cold-start benchmark: wall time and peak RSS of a fresh `otakit` process for
 * `otakit --version`, `otakit artifact read` on a small artifact and `otakit devices list --help`,
 * against the fastest honest baseline, a bare `node -e 0` started the same way in the same run.
 *
 * 1. Writes a small artifact (a 4 KiB module-image payload) with the built CLI.
 * 2. Runs ROUNDS rounds; each round starts every command once, interleaved with the baseline, so
 *    machine load weighs on all alike. Prints the median wall time of each, its ratio to the
 *    baseline's median, and the extra time over bare Node.
 * 3. Peak RSS and CPU time: each command runs again CPU_RUNS times under a CommonJS preload that prints, at
 *    exit, VmHWM and the process's CPU time (user + system, all threads); medians. The preload is
 *    kept out of the timed runs so its own cost does not count there. CPU time barely moves with
 *    machine load, unlike wall time, so it is the figure to compare on a busy machine.
 *
 * Targets (issue 15): `--version` and `artifact read` <= 150 ms and <= 50 MiB.
 *
 * Run after `pnpm build`: `pnpm bench cli`. Rounds: OTAKIT_BENCH_ROUNDS (default 15).
 * OTAKIT_BENCH_BEFORE=path/to/other/otakit.cjs adds the same commands run by another build (e.g. a
 * checkout from before a change), interleaved in the same rounds, for a before/after comparison.
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROUNDS = Number(process.env.OTAKIT_BENCH_ROUNDS ?? 15);
const BIN = resolve(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'otakit.cjs');
const BEFORE = process.env.OTAKIT_BENCH_BEFORE;
const TARGET_MS = 150;
const CPU_RUNS = 5;
const TARGET_MIB = 50;
/** A clean environment for the children: no tsx loader, no --expose-gc from scripts/bench.mjs. */
const ENV = { ...process.env, NODE_OPTIONS: '' };

interface Case {
  label: string;
  args: string[];
  /** Held to the issue-15 targets. */
  targeted: boolean;
  /** Added to the environment. */
  env?: NodeJS.ProcessEnv;
}

function wallMs(args: string[], env: NodeJS.ProcessEnv = {}): number {
  const started = process.hrtime.bigint();
  const res = spawnSync(process.execPath, args, {
    env: { ...ENV, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 0) throw new Error(`${args.join(' ')} exited ${res.status}: ${res.stderr}`);
  return ms;
}

/** Peak RSS (VmHWM, MiB) and CPU time (user + system, ms) of one run, printed by the preload at exit. */
function footprint(args: string[], preload: string, env: NodeJS.ProcessEnv): { rss: number; cpu: number } {
  const res = spawnSync(process.execPath, ['--require', preload, ...args], {
    env: { ...ENV, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const m = /VmHWM:\s*(\d+) kB cpu:(\d+)/.exec(res.stderr);
  if (res.status !== 0 || m === null) throw new Error(`${args.join(' ')}: ${res.stderr}`);
  return { rss: Number(m[1]) / 1024, cpu: Number(m[2]) / 1000 };
}

/** Median peak RSS and CPU time over CPU_RUNS runs. */
function footprints(
  args: string[],
  preload: string,
  env: NodeJS.ProcessEnv = {},
): { rss: number; cpu: number } {
  const runs = Array.from({ length: CPU_RUNS }, () => footprint(args, preload, env));
  return { rss: median(runs.map((r) => r.rss)), cpu: median(runs.map((r) => r.cpu)) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-bench-cli-'));
  let missed = false;
  try {
    const payload = join(dir, 'app.bin');
    const artifact = join(dir, 'small.mender');
    await writeFile(payload, randomBytes(4096));
    wallMs(
      [BIN, 'artifact', 'write', 'module-image', '-T', 'single-file', '-n', 'small-1', '-t', 'dev'].concat([
        '-f',
        payload,
        '-o',
        artifact,
      ]),
    );
    // A CommonJS preload: an ESM one (--import) would start the ESM loader (~2 MiB) in every
    // measured process, hiding whether the command itself needs it.
    const preload = join(dir, 'vmhwm.cjs');
    await writeFile(
      preload,
      "const { readFileSync } = require('node:fs');\n" +
        "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write(readFileSync('/proc/self/status', 'utf8').match(/VmHWM:.*/)[0] + ' cpu:' + (u.user + u.system) + '\\n'); });\n",
    );

    const commands: Array<[string, string[], boolean]> = [
      ['otakit --version', ['--version'], true],
      ['otakit artifact read (4 KiB artifact)', ['artifact', 'read', artifact], true],
      ['otakit devices list --help', ['devices', 'list', '--help'], false],
    ];
    // The bundle's code cache (packages/cli/src/code-cache.ts) in a directory of this run's own:
    // written by the untimed warm-up run, as by a user's first `otakit` call after installing.
    const cached = { OTAKIT_COMPILE_CACHE: join(dir, 'v8-cache') };
    const cases: Case[] = commands.map(([label, args, targeted]) => ({
      label,
      args: [BIN, ...args],
      targeted,
      env: cached,
    }));
    cases.push({
      label: 'otakit artifact read, no code cache (1st run)',
      args: [BIN, 'artifact', 'read', artifact],
      targeted: false,
      env: { OTAKIT_COMPILE_CACHE: '0' },
    });
    if (BEFORE) {
      for (const [label, args] of commands)
        cases.push({ label: `before: ${label}`, args: [BEFORE, ...args], targeted: false, env: cached });
    }
    const baseline: Case = { label: 'node -e 0 (baseline)', args: ['-e', '0'], targeted: false };
    const all = [baseline, ...cases];
    const times = new Map<Case, number[]>(all.map((c) => [c, []]));
    // Warm the file system cache once, untimed.
    for (const c of all) wallMs(c.args, c.env);
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of all) times.get(c)?.push(wallMs(c.args, c.env));
    }
    const base = median(times.get(baseline) ?? []);
    const baseUse = footprints(baseline.args, preload);
    console.log(
      `${ROUNDS} interleaved rounds, medians of wall time from spawn to exit; CPU time and peak RSS: medians of ${CPU_RUNS} runs`,
    );
    console.log(
      `${baseline.label.padEnd(48)} ${base.toFixed(0).padStart(5)} ms wall, ${baseUse.cpu.toFixed(0).padStart(4)} ms CPU, peak RSS ${baseUse.rss.toFixed(1)} MiB`,
    );
    for (const c of cases) {
      const ms = median(times.get(c) ?? []);
      const { rss, cpu } = footprints(c.args, preload, c.env);
      const verdict = c.targeted
        ? ms <= TARGET_MS && rss <= TARGET_MIB
          ? `  (target <= ${TARGET_MS} ms, <= ${TARGET_MIB} MiB: met)`
          : `  (target <= ${TARGET_MS} ms, <= ${TARGET_MIB} MiB: MISSED)`
        : '';
      if (c.targeted && !(ms <= TARGET_MS && rss <= TARGET_MIB)) missed = true;
      console.log(
        `${c.label.padEnd(48)} ${ms.toFixed(0).padStart(5)} ms wall x${(ms / base).toFixed(2)} (+${(ms - base).toFixed(0)} ms), ${cpu.toFixed(0).padStart(4)} ms CPU x${(cpu / baseUse.cpu).toFixed(2)}, peak RSS ${rss.toFixed(1)} MiB${verdict}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(missed ? 'cli bench: a target was missed' : 'cli bench: targets met');
}

await main();
