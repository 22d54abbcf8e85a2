/**
 * The CLI README's walk-through works when pasted: its first `sh` block runs in bash, command by
 * command as written, against the built `otakit` (on PATH through a shim), in an empty directory.
 * The only change is the sandbox port: 8080 becomes a free port, so parallel runs do not collide.
 * The test breaks when the README drifts from what the CLI does.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedInstaller } from '@otakit/device-client';
import { describe, expect, it } from 'vitest';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The README's first fenced `sh` block. */
function firstShellBlock(markdown: string): string {
  const m = /^```sh\n([\s\S]*?)^```$/m.exec(markdown);
  if (m === null) throw new Error('README has no ```sh block');
  return m[1] as string;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('the CLI README walk-through', () => {
  it('runs as pasted: sandbox, login, keygen, registry, sync, write, upload, agent on both planes, deploy wait, telemetry', {
    timeout: 180_000,
  }, async () => {
    const block = firstShellBlock(await readFile(join(cliRoot, 'README.md'), 'utf8'));
    // What the walk-through must keep showing (so the test cannot pass on an emptied block).
    for (const step of [
      'otakit sandbox start --port 8080',
      'otakit login',
      'otakit device keygen',
      'otakit iot devices create',
      'otakit iot sync',
      '--iot-device-id',
      'otakit telemetry query',
      'otakit artifact write rootfs-image',
      'otakit artifacts upload',
      'otakit device run',
      '--poll-interval',
      'otakit deploy wait',
    ]) {
      expect(block).toContain(step);
    }
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-readme-'));
    try {
      const bin = join(dir, 'bin');
      await mkdir(bin);
      await writeFile(
        join(bin, 'otakit'),
        `#!/bin/sh\nexec "${process.execPath}" "${join(cliRoot, 'bin', 'otakit.cjs')}" "$@"\n`,
      );
      await chmod(join(bin, 'otakit'), 0o755);
      const work = join(dir, 'work');
      await mkdir(work);
      // A failed step stops the script; background jobs are stopped whatever happens.
      const script = [
        'set -euo pipefail',
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
        block.replaceAll('8080', String(port)),
      ].join('\n');
      const child = spawn('bash', ['-c', script], {
        cwd: work,
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          OTAKIT_CONFIG: join(dir, 'config.json'),
          OTAKIT_SERVER: '',
          OTAKIT_TOKEN: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        output += d.toString();
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, output).toBe(0);
      expect(output).toMatch(/: finished, 1 succeeded, 0 failed/);
      expect(await readFile(join(work, 'agent.log'), 'utf8')).toMatch(/update \S+ success/);
      // the telemetry store's per-release table shows release-1.0
      expect(output).toMatch(/release-1\.0/);
      expect(output).toMatch(/fleet page: http:\/\/127\.0\.0\.1:\d+/);
      // The device's active slot now holds exactly the image the README wrote into the artifact.
      const image = await readFile(join(work, 'rootfs.ext4'));
      const active = Object.values(
        await new SimulatedInstaller({ dir: join(work, 'slots') }).currentContent(),
      );
      expect(active[0]?.equals(image)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
