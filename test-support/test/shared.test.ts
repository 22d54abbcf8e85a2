import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { missingShared, SHARED_PATH } from '../shared.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const temp = mkdtempSync(join(tmpdir(), 'otakit-shared-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('the shared folder check', () => {
  it('passes on the real shared folder', () => {
    expect(missingShared(SHARED_PATH)).toBeUndefined();
  });

  it('names the missing folder and where it is expected', () => {
    const absent = join(temp, 'absent');
    expect(missingShared(absent)).toBe(
      `otakit tests: the shared specs and vectors folder is missing: expected at ${absent} (../shared beside the repository, or set OTAKIT_SHARED_DIR)`,
    );
  });

  it('names the parts missing from an incomplete shared folder', () => {
    const partial = join(temp, 'partial');
    mkdirSync(join(partial, 'specs', 'mender'), { recursive: true });
    mkdirSync(join(partial, 'vectors', 'artifacts'), { recursive: true });
    writeFileSync(join(partial, 'vectors', 'artifacts', 'manifest.json'), '[]');
    const line = missingShared(partial);
    expect(line).toContain('specs/iot-core, vectors/keys missing from the shared folder');
    expect(line).toContain(partial);
    expect(line).not.toContain('specs/mender');
  });

  it('stops `vitest run` at once with that one line when the folder is missing', () => {
    const absent = join(temp, 'gone');
    const run = spawnSync(
      process.execPath,
      [join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'packages/core/test/version.test.ts'],
      { cwd: repoRoot, env: { ...process.env, OTAKIT_SHARED_DIR: absent, CI: '1' }, encoding: 'utf8' },
    );
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([missingShared(absent)]);
    // No suite ran.
    expect(run.stdout).not.toMatch(/Test Files|passed|failed/);
  });
});
