/**
 * `otakit artifact write --compression xz` as a user runs it (the built CLI): it writes through the
 * system xz, and where xz is missing it says what to install, exits 2 (unavailable here) and leaves
 * no file behind.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'bin', 'otakit.cjs');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-xz-'));
  await writeFile(join(dir, 'app.bin'), 'payload\n'.repeat(4096));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function write(output: string, env: NodeJS.ProcessEnv) {
  return spawnSync(
    process.execPath,
    [bin, 'artifact', 'write', 'module-image', '-T', 'single-file', '-n', 'app-1', '-t', 'dev'].concat([
      '-f',
      join(dir, 'app.bin'),
      '-o',
      output,
      '--compression',
      'xz',
      '--json',
    ]),
    { env: { ...process.env, ...env }, encoding: 'utf8' },
  );
}

describe('otakit artifact write --compression xz', () => {
  it('writes an xz artifact that otakit artifact read verifies', () => {
    const output = join(dir, 'app.mender');
    const res = write(output, {});
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ compression: 'lzma' });
    const read = spawnSync(process.execPath, [bin, 'artifact', 'read', '--json', output], {
      encoding: 'utf8',
    });
    expect(read.status).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ artifact_name: 'app-1', compression: 'lzma' });
  });

  it('without xz on PATH: one line naming what to install, exit 2, no output file', () => {
    const output = join(dir, 'no-xz.mender');
    const res = write(output, { PATH: join(dir, 'empty-bin') });
    expect(res.status).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^otakit: ERR_ARTIFACT_XZ_UNAVAILABLE: .*apt-get install xz-utils/);
    expect(existsSync(output)).toBe(false);
  });

  it('an xz that fails: exit 3 with its status, no output file', () => {
    const output = join(dir, 'failing-xz.mender');
    const res = write(output, { OTAKIT_XZ: '/bin/false' });
    expect(res.status).toBe(3);
    expect(res.stderr).toMatch(/^otakit: ERR_ARTIFACT_WRITE_COMPRESS: \/bin\/false exited with status 1/);
    expect(existsSync(output)).toBe(false);
  });
});
