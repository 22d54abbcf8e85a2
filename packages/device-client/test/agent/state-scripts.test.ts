import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import { DeviceClient, SimulatedInstaller } from '../../src/index.js';
import { isStateScript } from '../../src/scripts/state-scripts.js';

async function setup(scripts: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-scripts-'));
  const trace = join(dir, 'trace.log');
  await writeFile(join(dir, 'rootfs.img'), 'image-bytes');
  const path = join(dir, 'a.mender');
  await writeArtifact(
    {
      type: 'rootfs-image',
      artifactName: 'scripted',
      deviceTypes: ['test-device'],
      files: [join(dir, 'rootfs.img')],
      scripts: Object.entries(scripts).map(([name, body]) => ({
        name,
        content: `#!/bin/sh\n${body.replaceAll('TRACE', trace).replaceAll('DIR', dir)}\n`,
      })),
    },
    path,
  );
  const scriptsDir = join(dir, 'etc-scripts');
  await mkdir(scriptsDir);
  await writeFile(join(scriptsDir, 'Download_Enter_00_log'), `#!/bin/sh\necho Download_Enter >> ${trace}\n`);
  await chmod(join(scriptsDir, 'Download_Enter_00_log'), 0o755);
  const dataDir = join(dir, 'data');
  const client = new DeviceClient({
    deviceType: 'test-device',
    dataDir,
    installers: [new SimulatedInstaller({ dir: join(dataDir, 'device') })],
    stateScripts: { scriptsDir, retryIntervalMs: 1 },
  });
  return { client, path, trace: async () => (await readFile(trace, 'utf8')).trim().split('\n') };
}

describe('state scripts', () => {
  it('recognises Mender script names', () => {
    expect(isStateScript('ArtifactInstall_Enter_01_do-it', 'ArtifactInstall', 'Enter')).toBe(true);
    expect(isStateScript('ArtifactInstall_Enter_1', 'ArtifactInstall', 'Enter')).toBe(false);
    expect(isStateScript('ArtifactInstall_Leave_10', 'ArtifactInstall', 'Enter')).toBe(false);
  });

  it('runs Enter and Leave scripts in order, retrying a script that exits 21', async () => {
    const s = await setup({
      ArtifactInstall_Enter_01: 'echo ArtifactInstall_Enter_01 >> TRACE',
      ArtifactInstall_Enter_02_retry:
        'if [ ! -f DIR/retried ]; then touch DIR/retried; echo retry >> TRACE; exit 21; fi; echo ArtifactInstall_Enter_02 >> TRACE',
      ArtifactInstall_Leave_01: 'echo ArtifactInstall_Leave >> TRACE',
      ArtifactReboot_Leave_01: 'echo ArtifactReboot_Leave >> TRACE',
      ArtifactCommit_Enter_01: 'echo ArtifactCommit_Enter >> TRACE',
    });
    const result = await s.client.installFromFile(s.path);
    expect(result.outcome).toBe('success');
    expect(await s.trace()).toEqual([
      'Download_Enter',
      'ArtifactInstall_Enter_01',
      'retry',
      'ArtifactInstall_Enter_02',
      'ArtifactInstall_Leave',
      'ArtifactReboot_Leave',
      'ArtifactCommit_Enter',
    ]);
  });

  it('rolls back when an ArtifactCommit_Enter script fails, running the Error and rollback scripts', async () => {
    const s = await setup({
      ArtifactCommit_Enter_01: 'echo commit-enter >> TRACE; exit 3',
      ArtifactCommit_Error_01: 'echo commit-error >> TRACE',
      ArtifactRollback_Enter_01: 'echo rollback-enter >> TRACE',
      ArtifactFailure_Enter_01: 'echo failure-enter >> TRACE',
    });
    const result = await s.client.installFromFile(s.path);
    expect(result.outcome).toBe('failure');
    expect(result.error).toMatch(/ArtifactCommit_Enter_01 exited with 3/);
    expect(await s.trace()).toEqual([
      'Download_Enter',
      'commit-enter',
      'commit-error',
      'rollback-enter',
      'failure-enter',
    ]);
    expect((await s.client.installed()).artifactName).toBe('unknown');
  });
});
