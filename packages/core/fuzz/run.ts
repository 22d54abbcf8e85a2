/**
 * `pnpm fuzz`: mutates artifacts written by core's writer (every compression, signed and
 * unsigned, augmented, multi-payload) with bit flips, truncations, insertions, tar header
 * rewrites, PAX records, JSON rewrites and crafted decompressor inputs, and checks every case:
 * a result or a typed ArtifactError, under 2 s, under 256 MiB RSS, and never an accept under the
 * seed's key of an artifact whose signed content changed.
 *
 * Cases run in child processes (so a case that never yields can be timed out and killed, and each
 * process's memory is measured alone, by polling /proc while the case runs).
 *
 * Budget: --cases N | --seconds S (env FUZZ_CASES, FUZZ_SECONDS; default 2,000 cases),
 * --seed N (FUZZ_SEED, default random, printed), --workers N (FUZZ_WORKERS, default 1),
 * --case I to rerun one case of a seed. Exits 1 on any failure.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CaseReply, CaseRequest } from './child.js';

const LIMIT_MS = 2000;
const LIMIT_RSS = 256 * 1024 * 1024;
/** A case that has not answered after this long is killed (and counted over 2 s). */
const KILL_AFTER_MS = 20_000;

function flag(name: string, env: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const text = i !== -1 ? process.argv[i + 1] : process.env[env];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} expects a number, got ${text}`);
  return n;
}

const seconds = flag('seconds', 'FUZZ_SECONDS');
const only = flag('case', 'FUZZ_CASE');
const cases =
  only !== undefined ? 1 : (flag('cases', 'FUZZ_CASES') ?? (seconds === undefined ? 2000 : Infinity));
const runSeed = flag('seed', 'FUZZ_SEED') ?? Math.floor(Math.random() * 2 ** 31);
const workers = Math.max(1, flag('workers', 'FUZZ_WORKERS') ?? 1);
const deadline = seconds === undefined ? Infinity : Date.now() + seconds * 1000;

interface Failure {
  kind: string;
  index: number;
  seed: string;
  mutations: string[];
  detail?: string | undefined;
}

const stats = { cases: 0, harness: 0, untyped: 0, slow: 0, big: 0, falseAccept: 0, maxMs: 0, maxRss: 0 };
const failures: Failure[] = [];
let next = only ?? 0;
const started = Date.now();

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function record(reply: CaseReply, peakRss: number): void {
  stats.cases++;
  stats.maxMs = Math.max(stats.maxMs, reply.ms);
  const rss = Math.max(peakRss, reply.rss);
  stats.maxRss = Math.max(stats.maxRss, rss);
  const fail = (kind: string, detail?: string) => {
    const f: Failure = { kind, index: reply.index, seed: reply.seed, mutations: reply.mutations, detail };
    failures.push(f);
    if (failures.length <= 20) console.log(describeFailure(f));
  };
  if (reply.verdict === 'untyped') {
    stats.untyped++;
    fail('untyped error', reply.detail);
  } else if (reply.verdict === 'harness-error') {
    stats.harness++;
    fail('harness error (a bug in the mutator, not the reader)', reply.detail);
  } else if (reply.verdict === 'false-accept') {
    stats.falseAccept++;
    fail('false accept', reply.detail);
  }
  if (reply.ms >= LIMIT_MS) {
    stats.slow++;
    fail(`over 2 s (${Math.round(reply.ms)} ms)`);
  }
  if (rss >= LIMIT_RSS) {
    stats.big++;
    fail(`over 256 MiB (${Math.round(rss / 2 ** 20)} MiB)`);
  }
}

function describeFailure(f: Failure): string {
  return `  ${f.kind}: case ${f.index} (rerun: pnpm fuzz --seed ${runSeed} --case ${f.index}) seed=${f.seed} mutations=${f.mutations.join(' | ')}${f.detail ? `\n    ${f.detail}` : ''}`;
}

function more(): boolean {
  return (only !== undefined ? next === only : next < cases) && Date.now() < deadline;
}

async function worker(): Promise<void> {
  const childPath = fileURLToPath(new URL('./child.ts', import.meta.url));
  for (;;) {
    if (!more()) return;
    const child: ChildProcess = fork(childPath, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`fuzz worker exited with ${code} before it was ready`)));
    });
    const killed = await new Promise<boolean>((resolve) => {
      let current: { index: number; start: number; peak: number } | undefined;
      const poll = setInterval(() => {
        if (!current || child.pid === undefined) return;
        current.peak = Math.max(current.peak, rssOf(child.pid));
        if (Date.now() - current.start > KILL_AFTER_MS) {
          const c = current;
          current = undefined;
          clearInterval(poll);
          child.kill('SIGKILL');
          record(
            {
              verdict: 'ok',
              mutations: ['(killed: see index)'],
              seed: '?',
              index: c.index,
              ms: KILL_AFTER_MS,
              rss: c.peak,
            },
            c.peak,
          );
          resolve(true);
        }
      }, 20);
      const send = () => {
        if (!more()) {
          clearInterval(poll);
          child.kill();
          resolve(false);
          return;
        }
        const index = next++;
        current = { index, start: Date.now(), peak: 0 };
        child.send({ runSeed, index } satisfies CaseRequest);
      };
      child.on('message', (reply: CaseReply) => {
        const peak = current?.peak ?? 0;
        current = undefined;
        record(reply, peak);
        if (stats.cases % 5000 === 0) progress();
        send();
      });
      send();
    });
    if (!killed) return;
  }
}

function progress(): void {
  const secs = (Date.now() - started) / 1000;
  console.log(
    `fuzz: ${stats.cases} cases in ${secs.toFixed(0)} s (${(stats.cases / secs).toFixed(1)}/s); untyped ${stats.untyped}, over 2 s ${stats.slow}, over 256 MiB ${stats.big}, false accepts ${stats.falseAccept}, harness errors ${stats.harness}`,
  );
}

console.log(
  `fuzz: seed ${runSeed}, ${workers} worker(s), budget ${Number.isFinite(cases) ? `${cases} cases` : `${seconds} s`}`,
);
await Promise.all(Array.from({ length: workers }, () => worker()));
progress();
console.log(
  `fuzz: slowest case ${Math.round(stats.maxMs)} ms, peak worker RSS ${Math.round(stats.maxRss / 2 ** 20)} MiB`,
);
if (failures.length > 0) process.exit(1);
