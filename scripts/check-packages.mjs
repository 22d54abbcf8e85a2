#!/usr/bin/env node
// Packaging gate for every publishable package:
//   1. publint --strict
//   2. attw --pack (are-the-types-wrong)
//   3. pack all tarballs (each must hold its LICENSE), install them together in a scratch folder, and load each one with
//      both require() and import().
// Exits non-zero on the first failure, printing what failed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pkgsDir = join(root, 'packages');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, cwd) => {
  console.log(`$ ${[cmd, ...args].join(' ')}  (in ${cwd.replace(root, '.')})`);
  execFileSync(cmd, args, { cwd, stdio: 'inherit' });
};

const packages = readdirSync(pkgsDir)
  .map((dir) => ({
    dir: join(pkgsDir, dir),
    manifest: JSON.parse(readFileSync(join(pkgsDir, dir, 'package.json'), 'utf8')),
  }))
  .filter((p) => !p.manifest.private);

const scratch = mkdtempSync(join(tmpdir(), 'otakit-pack-'));
try {
  const tarballs = {};
  for (const p of packages) {
    run(bin('publint'), ['--strict'], p.dir);
    run(bin('attw'), ['--pack', '.', '--profile', 'node16'], p.dir);
    const out = execFileSync('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', scratch], {
      cwd: p.dir,
      encoding: 'utf8',
    });
    const tgz = out.trim().split('\n').pop().trim();
    tarballs[p.manifest.name] = tgz.startsWith('/') ? tgz : join(scratch, tgz);
    // Every tarball carries the license it declares.
    const listing = execFileSync('tar', ['-tzf', tarballs[p.manifest.name]], { encoding: 'utf8' });
    if (!listing.split('\n').includes('package/LICENSE')) {
      throw new Error(`${p.manifest.name}: the packed tarball has no LICENSE file`);
    }
    if (!readFileSync(join(p.dir, 'LICENSE'), 'utf8').includes('Apache License')) {
      throw new Error(`${p.manifest.name}: LICENSE is not the Apache-2.0 text it declares`);
    }
  }
  // One consumer project that depends on every tarball; overrides make the internal
  // dependencies resolve to the local tarballs instead of the registry.
  const deps = Object.fromEntries(Object.entries(tarballs).map(([n, t]) => [n, `file:${t}`]));
  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'otakit-consumer', private: true, dependencies: deps, overrides: deps }, null, 2),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], scratch);
  for (const name of Object.keys(tarballs)) {
    const cjs = `const m = require(${JSON.stringify(name)}); if (!Object.keys(m).length) throw new Error('empty CJS exports'); console.log('require ok: ${name}', Object.keys(m).length, 'exports')`;
    const esm = `const m = await import(${JSON.stringify(name)}); if (!Object.keys(m).length) throw new Error('empty ESM exports'); console.log('import ok: ${name}', Object.keys(m).length, 'exports')`;
    run('node', ['-e', cjs], scratch);
    run('node', ['--input-type=module', '-e', esm], scratch);
  }
  // The installed `otakit` runs its artifact commands from the packed bundle (core's artifact code
  // inside, the zstd decoder module in its own file, the decoder packages it requires): a zstd
  // artifact written, then validated twice, the second time from the code cache of the first.
  const otakit = join(scratch, 'node_modules', '.bin', 'otakit');
  const cacheEnv = { ...process.env, OTAKIT_COMPILE_CACHE: join(scratch, 'v8-cache') };
  writeFileSync(join(scratch, 'payload.bin'), 'otakit packed bundle check\n'.repeat(1000));
  execFileSync(
    otakit,
    ['artifact', 'write', 'module-image', '-T', 'single-file', '-n', 'packed-1', '-t', 'dev'].concat([
      '-f',
      'payload.bin',
      '-o',
      'packed.mender',
      '--compression',
      'zstd',
    ]),
    { cwd: scratch, env: cacheEnv, stdio: 'inherit' },
  );
  for (let i = 0; i < 2; i++) {
    execFileSync(otakit, ['artifact', 'validate', 'packed.mender'], {
      cwd: scratch,
      env: cacheEnv,
      stdio: 'inherit',
    });
  }
  console.log(`check:packages: ${packages.length} packages passed publint, attw and require/import`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
