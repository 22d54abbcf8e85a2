/** Runs the demo as `pnpm demo` does (against the built packages) and checks the story completed. */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(exampleDir, '..', '..', 'node_modules', '.bin', 'tsx');

describe('examples/device-update', () => {
  it('updates the simulated device, then rolls back the release whose health check fails', {
    timeout: 120_000,
  }, async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>(
      (resolvePromise, reject) => {
        const child = spawn(tsx, [join(exampleDir, 'src', 'demo.ts')], {
          cwd: exampleDir,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (d) => {
          output += d;
        });
        child.stderr.on('data', (d) => {
          output += d;
        });
        child.on('error', reject);
        child.on('close', (c) => resolvePromise({ code: c, output }));
      },
    );
    expect(output).toMatch(/device: update success/);
    expect(output).toMatch(/health server=ok, app=FAILED/);
    expect(output).toMatch(/state ArtifactRollback/);
    expect(output).toMatch(/demo complete/);
    expect(code).toBe(0);
  });
});
