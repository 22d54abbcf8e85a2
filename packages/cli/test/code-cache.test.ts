/**
 * The CommonJS bundle's code cache (src/code-cache.ts): where it lives, that the built `otakit`
 * writes it once and then runs from it, and that nothing about it (turned off, corrupt, unwritable,
 * stale) changes what a command does. How much time it saves is measured by bench/cli.bench.ts.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeCacheDirectory, requireWithCodeCache } from '../src/code-cache.js';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(cliRoot, 'bin', 'otakit.cjs');
const bundle = join(cliRoot, 'dist', 'otakit-main.cjs');

let dir: string;
let artifactFile: string;
let expected: string;

/** `otakit artifact read` with the cache in `cache` (or the setting given); its output. */
function read(cache: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [bin, 'artifact', 'read', artifactFile], {
    env: { ...process.env, OTAKIT_COMPILE_CACHE: cache },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

async function cacheFiles(cache: string): Promise<string[]> {
  return (await readdir(cache).catch(() => [] as string[])).filter((f) => f.endsWith('.v8cache'));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-code-cache-'));
  artifactFile = join(dir, 'small.mender');
  execFileSync(process.execPath, [
    bin,
    ...['artifact', 'write', 'module-image', '-T', 'single-file', '-n', 'cached-1', '-t', 'dev'],
    ...['-f', join(cliRoot, 'package.json'), '-o', artifactFile],
  ]);
  const plain = read('0');
  expect(plain.status).toBe(0);
  expected = plain.stdout;
  expect(expected).toContain('cached-1');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('codeCacheDirectory', () => {
  it('is OTAKIT_COMPILE_CACHE, else under XDG_CACHE_HOME, else under ~/.cache; 0 or off turns it off', () => {
    expect(codeCacheDirectory({ OTAKIT_COMPILE_CACHE: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(codeCacheDirectory({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'otakit', 'v8-cache'));
    expect(codeCacheDirectory({ OTAKIT_COMPILE_CACHE: '0', XDG_CACHE_HOME: '/x' })).toBeUndefined();
    expect(codeCacheDirectory({ OTAKIT_COMPILE_CACHE: 'off' })).toBeUndefined();
    expect(codeCacheDirectory({})).toMatch(/[\\/]\.cache[\\/]otakit[\\/]v8-cache$/);
  });
});

describe('requireWithCodeCache', () => {
  it('without a directory is a plain require (the same module object)', () => {
    const file = join(cliRoot, 'package.json');
    expect(requireWithCodeCache(file, undefined)).toBe(createRequire(import.meta.url)(file));
  });

  it('runs a CommonJS file with its own require, module, __filename and __dirname', async () => {
    const sub = join(dir, 'unit');
    await mkdir(sub, { recursive: true });
    const file = join(sub, 'm.cjs');
    await writeFile(join(sub, 'dep.cjs'), 'module.exports = 41;\n');
    await writeFile(
      file,
      "exports.value = require('./dep.cjs') + 1; exports.file = __filename; exports.dir = __dirname;\n" +
        'module.exports.self = typeof module.exports;\n',
    );
    const got = requireWithCodeCache(file, join(dir, 'unit-cache')) as Record<string, unknown>;
    expect(got).toEqual({ value: 42, file, dir: sub, self: 'object' });
  });
});

describe('the built otakit and its code cache', () => {
  it('writes the cache on the first run (0700 directory, 0600 file) and runs from it after', async () => {
    const cache = join(dir, 'first');
    expect(read(cache)).toEqual({ status: 0, stdout: expected, stderr: '' });
    const [file, ...more] = await cacheFiles(cache);
    expect(more).toEqual([]);
    expect(file).toMatch(/^otakit-main\.cjs-[0-9a-f]{8}-\d+-\d+-v\d+\.\d+\.\d+-\w+\.v8cache$/);
    expect((await stat(cache)).mode & 0o777).toBe(0o700);
    const written = await stat(join(cache, file as string));
    expect(written.mode & 0o777).toBe(0o600);
    expect(written.size).toBeGreaterThan(10_000);
    // V8 accepts it: the second run does not write it again.
    expect(read(cache)).toEqual({ status: 0, stdout: expected, stderr: '' });
    expect((await stat(join(cache, file as string))).mtimeMs).toBe(written.mtimeMs);
    expect(await cacheFiles(cache)).toEqual([file]);
  });

  it('a corrupt or truncated cache is refused by V8, the command runs as without, and the cache is rewritten', async () => {
    const cache = join(dir, 'corrupt');
    read(cache);
    const [file] = await cacheFiles(cache);
    const path = join(cache, file as string);
    const good = await readFile(path);
    for (const bad of [Buffer.alloc(good.length, 0x5a), good.subarray(0, good.length >> 1)]) {
      await writeFile(path, bad);
      expect(read(cache)).toEqual({ status: 0, stdout: expected, stderr: '' });
      expect((await readFile(path)).equals(bad)).toBe(false);
      expect((await readFile(path)).length).toBeGreaterThan(10_000);
    }
  });

  it('turned off (OTAKIT_COMPILE_CACHE=0) nothing is written', async () => {
    const home = join(dir, 'off-home');
    const run = spawnSync(process.execPath, [bin, 'artifact', 'read', artifactFile], {
      env: { ...process.env, OTAKIT_COMPILE_CACHE: '0', HOME: home, XDG_CACHE_HOME: join(home, 'xdg') },
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(expected);
    await expect(stat(home)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a cache directory that cannot be created costs nothing but the cache', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    expect(read(join(blocker, 'cache'))).toEqual({ status: 0, stdout: expected, stderr: '' });
  });

  it('a cache for another build of the bundle (other size or mtime) is replaced, not kept', async () => {
    const cache = join(dir, 'stale');
    read(cache);
    const [file] = await cacheFiles(cache);
    const stale = (file as string).replace(/-\d+-(\d+)-v/, '-1-$1-v');
    await rm(join(cache, file as string));
    await writeFile(join(cache, stale), 'from an older build');
    expect(read(cache)).toEqual({ status: 0, stdout: expected, stderr: '' });
    expect(await cacheFiles(cache)).toEqual([file]);
  });

  it('the bundle has no import(): a vm.Script cannot run one on Node 20', async () => {
    const source = await readFile(bundle, 'utf8');
    expect(source.match(/(^|[^\w$.])import\(/gm) ?? []).toEqual([]);
  });
});
