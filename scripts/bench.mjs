#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.bench.ts or *.bench.mjs), each in its own process so
// that its peak RSS is its own. Benchmarks import the built packages: run `pnpm build` first.
// Each benchmark prints its own figures: a ratio against a baseline measured in the same run, and
// its peak RSS. `pnpm bench artifact` runs only the benchmarks whose file name contains "artifact".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const filter = process.argv[2];
const files = readdirSync(join(root, 'bench'))
  .filter((f) => /\.bench\.(ts|mjs)$/.test(f))
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error('bench: no benchmark matched');
  process.exit(1);
}
let failed = 0;
for (const f of files) {
  console.log(`\n### ${f}`);
  const res = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'bench', f)], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '--expose-gc' },
  });
  if (res.status !== 0) {
    console.error(`bench: ${f} failed (exit ${res.status})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
