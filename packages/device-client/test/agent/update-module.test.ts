import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import { DeviceClient, UpdateModuleInstaller } from '../../src/index.js';

/** A shell update module in the single-file style: copies files/ to a destination on install. */
async function moduleDevice(healthy: boolean) {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-um-'));
  const modulesDir = join(dir, 'modules');
  const dest = join(dir, 'dest');
  const trace = join(dir, 'trace');
  await mkdir(modulesDir);
  await writeFile(
    join(modulesDir, 'copy-files'),
    `#!/bin/sh
STATE="$1"; FILES="$2"
echo "$STATE" >> ${trace}
case "$STATE" in
  NeedsArtifactReboot) echo No ;;
  SupportsRollback) echo Yes ;;
  ArtifactInstall) mkdir -p ${dest} && cp "$FILES"/files/* ${dest}/ ;;
  ArtifactRollback) rm -rf ${dest} ;;
esac
exit 0
`,
  );
  await chmod(join(modulesDir, 'copy-files'), 0o755);
  await writeFile(join(dir, 'app.conf'), 'setting=1\n');
  const path = join(dir, 'app.mender');
  await writeArtifact(
    {
      type: 'module-image',
      moduleType: 'copy-files',
      artifactName: 'app-1',
      deviceTypes: ['test-device'],
      files: [join(dir, 'app.conf')],
    },
    path,
  );
  const client = new DeviceClient({
    deviceType: 'test-device',
    dataDir: join(dir, 'data'),
    installers: [new UpdateModuleInstaller({ modulesDir })],
    healthChecks: [{ name: 'app', check: () => healthy }],
  });
  return { client, path, dest, trace: async () => (await readFile(trace, 'utf8')).trim().split('\n') };
}

describe('the state machine driving an unmodified update module', () => {
  it('installs and commits through the module protocol', async () => {
    const m = await moduleDevice(true);
    const result = await m.client.installFromFile(m.path);
    expect(result.outcome).toBe('success');
    expect(await readdir(m.dest)).toEqual(['app.conf']);
    const states = await m.trace();
    expect(states).toContain('ArtifactInstall');
    expect(states).toContain('ArtifactCommit');
    expect(states.at(-1)).toBe('Cleanup');
    expect((await m.client.installed()).artifactName).toBe('app-1');
  });

  it('rolls back through the module when the health check fails', async () => {
    const m = await moduleDevice(false);
    const result = await m.client.installFromFile(m.path);
    expect(result.outcome).toBe('failure');
    const states = await m.trace();
    expect(states).toContain('ArtifactRollback');
    expect(states).toContain('ArtifactFailure');
    expect(states).not.toContain('ArtifactCommit');
    await expect(readdir(m.dest)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
