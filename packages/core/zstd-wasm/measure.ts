/**
 * How the zstd decoder was chosen (numbers in the core README): decodes the same inputs with
 * fzstd (pure JS, streaming), @bokuweb/zstd-wasm (libzstd WASM, one-shot only) and core's
 * libzstd WASM streaming decoder, and reports throughput on a legitimate 64 MiB stream, the
 * longest time the event loop was blocked, and the time on a crafted sequence bomb (fzstd is run
 * in a child process and killed after 20 s, since it cannot be interrupted).
 * Run: npx tsx packages/core/zstd-wasm/measure.ts
 */

import { spawnSync } from 'node:child_process';
import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import { Decompress } from 'fzstd';
import { unzstd } from '../src/artifact/zstd.js';
import { zstdSequenceBombFrame } from '../test/artifact/hostile.js';

if (process.argv[2] === 'fzstd-bomb') {
  const d = new Decompress(() => undefined);
  d.push(zstdSequenceBombFrame(), true);
  process.exit(0);
}

/** Runs `fn`, returning its wall time and the longest gap between 1 ms timer ticks (event-loop block). */
async function timed(fn: () => Promise<unknown> | unknown): Promise<{ ms: number; blockedMs: number }> {
  let last = performance.now();
  let worst = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  worst = Math.max(worst, performance.now() - last);
  clearInterval(tick);
  return { ms, blockedMs: worst };
}

await init();
const size = 64 * 1024 * 1024;
const plain = Buffer.alloc(size);
for (let i = 0; i < size; i += 4096) plain.write(`block ${i} ${'x'.repeat(i % 200)}`, i);
const packed = compress(plain, 3);
const slices = (data: Uint8Array, n: number) =>
  (async function* () {
    for (let i = 0; i < data.length; i += n) yield data.subarray(i, i + n);
  })();

const rows: string[] = [];
const report = (name: string, r: { ms: number; blockedMs: number }, extra = '') =>
  rows.push(
    `${name.padEnd(34)} ${(size / 2 ** 20 / (r.ms / 1000)).toFixed(0).padStart(6)} MiB/s  event loop blocked up to ${r.blockedMs.toFixed(0)} ms ${extra}`,
  );

report(
  'fzstd (streaming, 64 KiB pushes)',
  await timed(async () => {
    let n = 0;
    const d = new Decompress((c) => {
      n += c.length;
    });
    for await (const s of slices(packed, 64 * 1024)) {
      d.push(s);
      await new Promise((r) => setImmediate(r));
    }
    d.push(new Uint8Array(0), true);
    if (n !== size) throw new Error('fzstd size');
  }),
);
report(
  '@bokuweb/zstd-wasm (one-shot)',
  await timed(() => {
    if (decompress(packed).length !== size) throw new Error('bokuweb size');
  }),
  '(whole input and output in memory)',
);
report(
  'core libzstd WASM (streaming)',
  await timed(async () => {
    let n = 0;
    for await (const c of unzstd(slices(packed, 64 * 1024), 'bench')) n += c.length;
    if (n !== size) throw new Error('core size');
  }),
);

const bombCore = await timed(async () => {
  try {
    for await (const _ of unzstd(slices(zstdSequenceBombFrame(), 1 << 20), 'bomb')) {
      /* */
    }
  } catch {
    /* refused */
  }
});
let bombBoku = 'refused';
const bokuTime = await timed(() => {
  try {
    decompress(zstdSequenceBombFrame());
    bombBoku = 'accepted';
  } catch {
    /* refused */
  }
});
const start = Date.now();
const child = spawnSync(
  process.execPath,
  ['--import', 'tsx', new URL(import.meta.url).pathname, 'fzstd-bomb'],
  { timeout: 20_000 },
);
const fzstdBomb = child.signal
  ? `still running after ${((Date.now() - start) / 1000).toFixed(0)} s (killed)`
  : `${Date.now() - start} ms`;
rows.push(
  `sequence bomb: core ${bombCore.ms.toFixed(1)} ms (refused), @bokuweb ${bokuTime.ms.toFixed(1)} ms (${bombBoku}), fzstd ${fzstdBomb}`,
);
console.log(rows.join('\n'));
