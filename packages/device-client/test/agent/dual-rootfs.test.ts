import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceClient, DualRootfsInstaller, FileBootloader } from '../../src/index.js';
import { makeArtifact } from './sandbox-helpers.js';

/** Two file-backed partitions and a file bootloader whose reboot is simulated in-process. */
async function abDevice(opts: { crashNewImage?: boolean; healthy?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'otakit-ab-'));
  const a = join(dir, 'part2');
  const b = join(dir, 'part3');
  await writeFile(a, Buffer.alloc(1024 * 1024, 1));
  await writeFile(b, Buffer.alloc(1024 * 1024, 0));
  const bootloader = new FileBootloader({ file: join(dir, 'env.json'), bootPart: { a: '2', b: '3' } });
  const reboot = async () => {
    await bootloader.boot(opts.crashNewImage ? { crashes: (part) => part === '3' } : {});
  };
  const installer = new DualRootfsInstaller({
    partitions: { a, b },
    bootloader,
    bootPart: { a: '2', b: '3' },
    reboot,
  });
  const client = new DeviceClient({
    deviceType: 'test-device',
    dataDir: join(dir, 'data'),
    installers: [installer],
    healthChecks: [{ name: 'app', check: () => opts.healthy ?? true }],
  });
  return { client, a, b, bootloader };
}

describe('the state machine driving DualRootfsInstaller (file partitions, simulated boots)', () => {
  it('writes the inactive partition, boots it, commits', async () => {
    const d = await abDevice();
    const art = await makeArtifact({ name: 'ab-2', size: 200_000 });
    const result = await d.client.installFromFile(art.path);
    expect(result.outcome).toBe('success');
    expect((await readFile(d.b)).subarray(0, art.image.length).equals(art.image)).toBe(true);
    expect(await d.bootloader.bootedPart()).toBe('3');
    expect((await d.client.installed()).artifactName).toBe('ab-2');
  });

  it('rolls back to the old partition when the health check fails', async () => {
    const d = await abDevice({ healthy: false });
    const art = await makeArtifact({ name: 'ab-bad', size: 200_000 });
    const result = await d.client.installFromFile(art.path);
    expect(result.outcome).toBe('failure');
    expect(await d.bootloader.bootedPart()).toBe('2');
    expect((await d.client.installed()).artifactName).toBe('unknown');
  });

  it('rolls back when the new image crashes on boot and the bootloader reverts', async () => {
    const d = await abDevice({ crashNewImage: true });
    const art = await makeArtifact({ name: 'ab-crash', size: 200_000 });
    const result = await d.client.installFromFile(art.path);
    expect(result.outcome).toBe('failure');
    expect(await d.bootloader.bootedPart()).toBe('2');
  });
});
