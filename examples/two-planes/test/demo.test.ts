/** Runs the two-planes demo as `pnpm demo` does and checks the story completed. */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(exampleDir, '..', '..', 'node_modules', '.bin', 'tsx');

describe('examples/two-planes', () => {
  it('registers devices once, syncs them into Mender, the telemetry follows updates and a rollback, and a gated rollout halts a hot release', {
    timeout: 180_000,
  }, async () => {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done, reject) => {
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
      child.on('close', (c) => done({ code: c, output }));
    });
    expect(output).toMatch(/sync: 3 devices preauthorized in Mender with the same keys/);
    expect(output).toMatch(/every device reports release-2\.0: true/);
    expect(output).toMatch(/update failure \(health check app failed/);
    expect(output).toMatch(/every device is back on release-2\.0: true/);
    expect(output).toMatch(/fleet page: http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(/rollout: gate cpu_temp:mean:\+10%: regression: canary/);
    expect(output).toMatch(/rollout: aborted \(regression\); rollback succeeded/);
    expect(output).toMatch(/devices now run: release-2\.0, release-2\.0, release-2\.0/);
    expect(output).toMatch(/release-2\.2\s+\d+\s+6\d\.\d/);
    expect(output).toMatch(/release-2\.0\s+\d+\s+4\d\.\d/);
    expect(output).toMatch(/demo complete/);
    expect(code).toBe(0);
  });
});
