import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DualRootfsInstaller,
  FileBootloader,
  InstallerErrorCodes,
  readABState,
  type Slot,
  UBootBootloader,
} from '../../src/installers/index.js';
import type { PayloadFile } from '../../src/installers/types.js';
import { makeContext, payload, tempDir } from './helpers.js';

const fakeBin = join(fileURLToPath(new URL('.', import.meta.url)), 'fake-bin');

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function image(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

async function setup(options: { bootlimit?: number } = {}) {
  const dir = await tempDir();
  const partitions = { a: join(dir, 'rootfs-p2.img'), b: join(dir, 'rootfs-p3.img') };
  const factory = image('factory', 4096);
  await writeFile(partitions.a, factory);
  await writeFile(partitions.b, Buffer.alloc(0));
  const envFile = join(dir, 'env.json');
  const make = () => {
    const bootloader = new FileBootloader({ file: envFile, bootlimit: options.bootlimit ?? 1 });
    const installer = new DualRootfsInstaller({
      partitions,
      bootloader,
      reboot: async () => {
        await bootloader.boot({ crashes: (part) => crashing.has(part) });
      },
    });
    return { bootloader, installer };
  };
  const crashing = new Set<string>();
  return { dir, partitions, factory, make, crashing, ctx: makeContext(join(dir, 'work')), ...make() };
}

describe('DualRootfsInstaller', () => {
  it('takes the partition numbers from the device paths', async () => {
    const { installer, bootloader } = await setup();
    expect(installer.supports('rootfs-image')).toBe(true);
    expect(installer.supports('single-file')).toBe(false);
    expect(await installer.currentSlot()).toBe('a');
    expect(await bootloader.bootedPart()).toBe('2');
  });

  it('writes the inactive partition, switches, reboots, verifies and commits', async () => {
    const { installer, bootloader, partitions, factory, ctx } = await setup();
    const img = image('release-2', 300_000);
    await installer.download(ctx, payload({ 'rootfs.ext4': img }));
    expect(sha(await readFile(partitions.b))).toBe(sha(img));
    expect(sha(await readFile(partitions.a))).toBe(sha(factory));
    expect(ctx.lines.some((l) => l.includes('read back 300000 bytes'))).toBe(true);

    await installer.install(ctx);
    expect(await readABState(bootloader)).toEqual({ bootPart: '3', upgradeAvailable: true, bootcount: 0 });
    expect(await bootloader.getEnv(['mender_boot_part_hex'])).toEqual({ mender_boot_part_hex: '3' });
    expect(await installer.needsReboot(ctx)).toBe('Yes');

    await installer.reboot(ctx);
    expect(await installer.currentSlot()).toBe('b');
    await installer.verifyReboot(ctx);
    await installer.commit(ctx);
    await installer.cleanup(ctx);
    expect(await readABState(bootloader)).toEqual({ bootPart: '3', upgradeAvailable: false, bootcount: 0 });

    // The next update goes to the other partition.
    const ctx2 = makeContext(join(ctx.workDir, '..', 'work2'));
    const img3 = image('release-3', 5000);
    await installer.download(ctx2, payload({ 'rootfs.ext4': img3 }));
    expect(sha(await readFile(partitions.a))).toBe(sha(img3));
  });

  it('rolls back when the bootloader reverted (the new image did not come up)', async () => {
    const { installer, bootloader, crashing, ctx } = await setup();
    crashing.add('3');
    await installer.download(ctx, payload({ 'rootfs.ext4': image('bad', 1000) }));
    await installer.install(ctx);
    await installer.reboot(ctx);
    expect(await installer.currentSlot()).toBe('a');
    await expect(installer.verifyReboot(ctx)).rejects.toMatchObject({
      code: InstallerErrorCodes.VERIFY_FAILED,
      message: expect.stringContaining('reverted'),
    });
    expect(await installer.supportsRollback(ctx)).toBe(true);
    await installer.rollback(ctx);
    await installer.rollbackReboot(ctx);
    await installer.verifyRollbackReboot(ctx);
    await installer.failure(ctx);
    await installer.cleanup(ctx);
    expect(await readABState(bootloader)).toEqual({ bootPart: '2', upgradeAvailable: false, bootcount: 0 });
    expect(await bootloader.bootedPart()).toBe('2');
  });

  it('rolls back from the new partition when a later check fails', async () => {
    const { installer, bootloader, ctx } = await setup();
    await installer.download(ctx, payload({ 'rootfs.ext4': image('ok', 1000) }));
    await installer.install(ctx);
    await installer.reboot(ctx);
    await installer.verifyReboot(ctx);
    // e.g. a health check failed: the agent rolls back instead of committing.
    await installer.rollback(ctx);
    expect(await readABState(bootloader)).toEqual({ bootPart: '2', upgradeAvailable: false, bootcount: 0 });
    expect(await installer.currentSlot()).toBe('b');
    await expect(installer.verifyRollbackReboot(ctx)).rejects.toMatchObject({
      code: InstallerErrorCodes.VERIFY_FAILED,
    });
    await installer.rollbackReboot(ctx);
    await installer.verifyRollbackReboot(ctx);
    expect(await installer.currentSlot()).toBe('a');
  });

  it('continues with new instances and repeated steps (restart after a power cut)', async () => {
    const { make, partitions, ctx } = await setup();
    const img = image('release-2', 70_000);
    await make().installer.download(ctx, payload({ 'rootfs.ext4': image('interrupted', 123) }));
    await make().installer.download(ctx, payload({ 'rootfs.ext4': img }));
    expect(sha(await readFile(partitions.b))).toBe(sha(img));
    await make().installer.install(ctx);
    await make().installer.install(ctx);
    await make().installer.reboot(ctx);
    await make().installer.reboot(ctx); // the reboot happened: no second trial boot
    const { bootloader, installer } = make();
    expect(await readABState(bootloader)).toEqual({ bootPart: '3', upgradeAvailable: true, bootcount: 1 });
    await installer.verifyReboot(ctx);
    await make().installer.commit(ctx);
    await make().installer.commit(ctx);
    await make().installer.cleanup(ctx);
    expect(await readABState(bootloader)).toEqual({ bootPart: '3', upgradeAvailable: false, bootcount: 0 });
  });

  it('points the bootloader away from the partition it is about to write', async () => {
    const { installer, bootloader, ctx } = await setup();
    const abandoned = makeContext(join(ctx.workDir, '..', 'abandoned'));
    await installer.download(abandoned, payload({ 'rootfs.ext4': image('abandoned', 100) }));
    await installer.install(abandoned);
    expect((await readABState(bootloader)).bootPart).toBe('3');
    await installer.download(ctx, payload({ 'rootfs.ext4': image('next', 100) }));
    expect(await readABState(bootloader)).toEqual({ bootPart: '2', upgradeAvailable: false, bootcount: 0 });
    await installer.install(ctx);
    expect(await readABState(bootloader)).toEqual({ bootPart: '3', upgradeAvailable: true, bootcount: 0 });
  });

  it('refuses to install an image whose download broke off, and installs it once downloaded again', async () => {
    const { installer, bootloader, partitions, ctx } = await setup();
    async function* broken(): AsyncIterable<PayloadFile> {
      const stream = new Readable({ read() {} });
      stream.push(image('partial', 5000));
      setImmediate(() => stream.destroy(new Error('connection reset')));
      yield { name: 'rootfs.ext4', size: 100_000, stream };
    }
    await expect(installer.download(ctx, broken())).rejects.toThrow(/connection reset/);
    await expect(installer.install(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
    expect((await readABState(bootloader)).bootPart).toBe('2');
    const img = image('complete', 100_000);
    await installer.download(ctx, payload({ 'rootfs.ext4': img }));
    expect(sha(await readFile(partitions.b))).toBe(sha(img));
    await installer.install(ctx);
    expect((await readABState(bootloader)).bootPart).toBe('3');
  });

  it('refuses to commit while the old partition runs', async () => {
    const { installer, ctx } = await setup();
    await installer.download(ctx, payload({ 'rootfs.ext4': image('x', 10) }));
    await installer.install(ctx);
    await expect(installer.commit(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
  });

  it('refuses payloads without exactly one file, or with a size that differs from the declared one', async () => {
    const { installer, ctx } = await setup();
    await expect(installer.download(ctx, payload({}))).rejects.toMatchObject({
      code: InstallerErrorCodes.BAD_PAYLOAD,
    });
    await expect(installer.download(ctx, payload({ one: 'a', two: 'b' }))).rejects.toMatchObject({
      code: InstallerErrorCodes.BAD_PAYLOAD,
    });
    async function* lying(): AsyncIterable<PayloadFile> {
      yield { name: 'rootfs.ext4', size: 10, stream: Readable.from([Buffer.from('only five')]) };
    }
    await expect(installer.download(ctx, lying())).rejects.toMatchObject({
      code: InstallerErrorCodes.BAD_PAYLOAD,
    });
    await expect(installer.install(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
  });

  it.each(['../rootfs', '/dev/sda'])('refuses the payload file name %j', async (name) => {
    const { installer, ctx, partitions } = await setup();
    await expect(installer.download(ctx, payload({ [name]: 'x' }))).rejects.toMatchObject({
      code: InstallerErrorCodes.UNSAFE_NAME,
    });
    expect((await readFile(partitions.b)).length).toBe(0);
  });

  it('works through U-Boot tools with a pluggable current partition', async () => {
    const dir = await tempDir();
    const envFile = join(dir, 'uboot.env');
    await writeFile(envFile, 'mender_boot_part=2\nupgrade_available=0\nbootcount=0\n');
    const partitions = { a: join(dir, 'mmcblk0p2'), b: join(dir, 'mmcblk0p3') };
    await writeFile(partitions.a, 'factory');
    let running: Slot = 'a';
    const bootloader = new UBootBootloader({
      printenv: [join(fakeBin, 'fw_printenv'), '-c', envFile],
      setenv: [join(fakeBin, 'fw_setenv'), '-c', envFile],
    });
    const installer = new DualRootfsInstaller({
      partitions,
      bootloader,
      currentSlot: async () => running,
      reboot: async () => {
        // What U-Boot does on a trial boot: count it and boot mender_boot_part.
        const env = await bootloader.getEnv(['mender_boot_part', 'bootcount']);
        await bootloader.setEnv({ bootcount: String(Number(env.bootcount) + 1) });
        running = env.mender_boot_part === '3' ? 'b' : 'a';
      },
    });
    const ctx = makeContext(join(dir, 'work'));
    await installer.download(ctx, payload({ 'rootfs.ext4': 'new rootfs' }));
    await installer.install(ctx);
    expect(await readFile(`${envFile}.last-script`, 'utf8')).toBe(
      'mender_boot_part=3\nmender_boot_part_hex=3\nupgrade_available=1\nbootcount=0\n',
    );
    await installer.reboot(ctx);
    await installer.verifyReboot(ctx);
    await installer.commit(ctx);
    expect(await readFile(partitions.b, 'utf8')).toBe('new rootfs');
    expect(await readABState(bootloader)).toEqual({ bootPart: '3', upgradeAvailable: false, bootcount: 0 });
  });
});

describe('DualRootfsInstaller options', () => {
  it('takes the running slot from activeSlot, or from its former name currentSlot', async () => {
    const { partitions, bootloader } = await setup();
    const viaActive = new DualRootfsInstaller({ partitions, bootloader, activeSlot: async () => 'b' });
    const viaCurrent = new DualRootfsInstaller({ partitions, bootloader, currentSlot: async () => 'b' });
    expect(await viaActive.activeSlot()).toBe('b');
    expect(await viaCurrent.activeSlot()).toBe('b');
    expect(await viaCurrent.currentSlot()).toBe('b');
  });
});
