// DualRootfsInstaller on real block devices (two loop devices, attached with losetup as root, as CI
// runs) with the real bootloader environment tools: grub-editenv (Debian grub-common) and
// fw_printenv/fw_setenv (Debian libubootenv-tool) on a redundant, file-backed U-Boot environment
// configured by a config file in the test's temp dir. Each test checks the bytes on the devices
// (read back from /dev/loopN and from the backing files) and the environment the real tools read
// back. Without root or the tools these tests fail, naming what is missing: `.ci/run` installs them.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Bootloader,
  DualRootfsInstaller,
  GrubBootloader,
  InstallerError,
  InstallerErrorCodes,
  type Slot,
  UBootBootloader,
} from '../../src/installers/index.js';
import { makeContext, payload, tempDir } from './helpers.js';
import {
  attachLoop,
  detachLoop,
  fwPrintenv,
  grubEditenvList,
  loopBackingFile,
  missingPrerequisites,
  powerOn,
  readHead,
  ubootEnvCopies,
  writeHead,
} from './real-ab.js';

const SLOT_BYTES = 4 * 1024 * 1024;
const PARTS = { a: '2', b: '3' };
const ENV_SIZE = 0x4000;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let backing: { a: string; b: string };
let loops: { a: string; b: string } | undefined;
const attached: string[] = [];

beforeAll(async () => {
  const missing = await missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(
      `the loop-device A/B tests need ${missing.join(', ')}: run them as root after ` +
        '`apt-get install -y grub-common libubootenv-tool` (as .ci/run does)',
    );
  }
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'otakit-loop-'));
  backing = { a: join(dir, 'slot-a.img'), b: join(dir, 'slot-b.img') };
  await writeFile(backing.a, Buffer.alloc(SLOT_BYTES));
  await writeFile(backing.b, Buffer.alloc(SLOT_BYTES));
  const a = await attachLoop(backing.a);
  attached.push(a);
  const b = await attachLoop(backing.b);
  attached.push(b);
  loops = { a, b };
});

afterAll(async () => {
  // Detach whatever was attached, even when a test (or the attach of the second device) failed.
  const errors: unknown[] = [];
  for (const dev of attached.splice(0)) await detachLoop(dev).catch((err: unknown) => errors.push(err));
  if (backing) {
    const { rm } = await import('node:fs/promises');
    await rm(join(backing.a, '..'), { recursive: true, force: true });
  }
  if (errors.length > 0) throw new AggregateError(errors, 'could not detach the loop devices');
});

interface Rig {
  kind: string;
  bootloader: Bootloader;
  /** The whole environment as the real tool prints it. */
  toolEnv(): Promise<Record<string, string>>;
}

/** A GRUB environment block file, driven through the real grub-editenv. */
async function grubRig(): Promise<Rig> {
  const dir = await tempDir('otakit-grubenv-');
  const envFile = join(dir, 'grubenv');
  const bootloader = new GrubBootloader({ envFile });
  // The factory image's environment: running partition 2, no trial.
  await bootloader.setEnv({
    mender_boot_part: PARTS.a,
    mender_boot_part_hex: PARTS.a,
    upgrade_available: '0',
    bootcount: '0',
  });
  if (!(bootloader as GrubBootloader).usesTool)
    throw new Error('GrubBootloader fell back to its built-in writer');
  return { kind: 'grub-editenv', bootloader, toolEnv: () => grubEditenvList(envFile) };
}

/** A redundant U-Boot environment in one file (two copies), driven through the real fw_setenv/fw_printenv. */
async function ubootRig(): Promise<Rig & { envImage: string }> {
  const dir = await tempDir('otakit-ubootenv-');
  const envImage = join(dir, 'uboot.env');
  await writeFile(envImage, Buffer.alloc(2 * ENV_SIZE));
  const config = join(dir, 'fw_env.config');
  await writeFile(
    config,
    `${envImage} 0x0 ${hex(ENV_SIZE)}\n${envImage} ${hex(ENV_SIZE)} ${hex(ENV_SIZE)}\n`,
  );
  // The default environment compiled into the firmware (what fw_printenv shows for a blank env).
  const defenv = join(dir, 'u-boot-initial-env');
  await writeFile(
    defenv,
    `mender_boot_part=${PARTS.a}\nmender_boot_part_hex=${PARTS.a}\nbootlimit=1\nbootcount=0\nupgrade_available=0\n`,
  );
  const bootloader = new UBootBootloader({
    printenv: ['fw_printenv', '-c', config, '-f', defenv],
    setenv: ['fw_setenv', '-c', config, '-f', defenv],
    tmpDir: dir,
  });
  // The environment as the factory image leaves it: written once (the first valid copy).
  await bootloader.setEnv({ mender_boot_part: PARTS.a, upgrade_available: '0', bootcount: '0' });
  return { kind: 'fw_setenv', bootloader, toolEnv: () => fwPrintenv(config, defenv), envImage };
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Factory image in slot a (written through the loop device), slot b blank, and an installer. */
async function device(rig: Rig, opts: { crashing?: Set<string> } = {}) {
  if (!loops) throw new Error('no loop devices');
  const factory = randomBytes(1024 * 1024);
  await writeHead(loops.a, factory);
  await writeHead(loops.b, Buffer.alloc(2 * 1024 * 1024));
  let running: string = PARTS.a;
  const boots: { part: string; attempts: number; reverted: boolean }[] = [];
  const installer = new DualRootfsInstaller({
    partitions: loops,
    bootloader: rig.bootloader,
    bootPart: PARTS,
    // On a device: the root= of /proc/cmdline. Here: what the last simulated boot brought up.
    currentSlot: async (): Promise<Slot> => (running === PARTS.a ? 'a' : 'b'),
    reboot: async () => {
      const boot = await powerOn(rig.bootloader, PARTS, (part) => opts.crashing?.has(part) ?? false);
      boots.push(boot);
      running = boot.part;
    },
  });
  const ctx = makeContext(await tempDir('otakit-loop-work-'));
  return { installer, ctx, factory, boots, loops, running: () => running };
}

/** Checks the A/B variables as the real tool reads them back (`mender_boot_part_hex` follows the part). */
async function expectEnv(
  rig: Rig,
  part: string,
  upgradeAvailable: '0' | '1',
  bootcount: string,
): Promise<void> {
  expect(await rig.toolEnv()).toMatchObject({
    mender_boot_part: part,
    mender_boot_part_hex: part,
    upgrade_available: upgradeAvailable,
    bootcount,
  });
}

/** The bytes at the start of a slot, read from the loop device and from its backing file. */
async function slotBytes(slot: Slot, length: number): Promise<{ device: Buffer; file: Buffer }> {
  return { device: await readHead(loops![slot], length), file: await readHead(backing[slot], length) };
}

describe('loop devices', () => {
  it('are ours: each /dev/loopN is backed by the file this test created', async () => {
    expect(await loopBackingFile(loops!.a)).toBe(backing.a);
    expect(await loopBackingFile(loops!.b)).toBe(backing.b);
  });
});

for (const makeRig of [grubRig, ubootRig]) {
  describe(`DualRootfsInstaller on loop devices with ${makeRig === grubRig ? 'grub-editenv' : 'fw_setenv/fw_printenv'}`, () => {
    it('writes the image to the inactive device, boots it on trial and commits', async () => {
      const rig = await makeRig();
      const { installer, ctx, factory, boots, running } = await device(rig);
      const img = randomBytes(1024 * 1024 + 4321);

      await installer.download(ctx, payload({ 'rootfs.ext4': img }));
      const b = await slotBytes('b', img.length);
      expect(sha(b.device)).toBe(sha(img));
      expect(sha(b.file)).toBe(sha(img));
      const a = await slotBytes('a', factory.length);
      expect(sha(a.device)).toBe(sha(factory));
      expect(sha(a.file)).toBe(sha(factory));

      await installer.install(ctx);
      await expectEnv(rig, '3', '1', '0');

      await installer.reboot(ctx);
      expect(boots).toEqual([{ part: '3', attempts: 1, reverted: false }]);
      expect(running()).toBe('3');
      await expectEnv(rig, '3', '1', '1');
      await installer.verifyReboot(ctx);

      await installer.commit(ctx);
      await expectEnv(rig, '3', '0', '0');
      // The committed image keeps booting: no trial is counted and nothing swaps back.
      await installer.reboot(ctx);
      expect(boots.at(-1)).toEqual({ part: '3', attempts: 1, reverted: false });
      await expectEnv(rig, '3', '0', '0');
      await installer.cleanup(ctx);
    });

    it('rolls back to the old device when the new image fails its checks', async () => {
      const rig = await makeRig();
      const { installer, ctx, factory, running } = await device(rig);
      const img = randomBytes(512 * 1024 + 17);
      await installer.download(ctx, payload({ 'rootfs.ext4': img }));
      await installer.install(ctx);
      await installer.reboot(ctx);
      await installer.verifyReboot(ctx);
      expect(running()).toBe('3');
      // A health check failed: the agent rolls back while the new image runs on trial.
      expect(await installer.supportsRollback(ctx)).toBe(true);
      await installer.rollback(ctx);
      await expectEnv(rig, '2', '0', '0');
      await installer.rollbackReboot(ctx);
      expect(running()).toBe('2');
      await installer.verifyRollbackReboot(ctx);
      await expectEnv(rig, '2', '0', '0');
      // The old system is untouched; the failed image stays in the inactive slot.
      expect(sha((await slotBytes('a', factory.length)).device)).toBe(sha(factory));
      expect(sha((await slotBytes('b', img.length)).device)).toBe(sha(img));
    });

    it('is reverted by the boot limit when the new image never comes up, and verifyReboot says so', async () => {
      const rig = await makeRig();
      const crashing = new Set([PARTS.b]);
      const { installer, ctx, boots, running } = await device(rig, { crashing });
      await installer.download(ctx, payload({ 'rootfs.ext4': randomBytes(300_000) }));
      await installer.install(ctx);
      await installer.reboot(ctx);
      // First boot of partition 3 counted (bootcount 1) and crashed; the watchdog reboot passed the
      // limit and the firmware swapped back to 2 and ended the trial.
      expect(boots).toEqual([{ part: '2', attempts: 2, reverted: true }]);
      expect(running()).toBe('2');
      await expectEnv(rig, '2', '0', '0');
      const err = await installer.verifyReboot(ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InstallerError);
      expect((err as InstallerError).code).toBe(InstallerErrorCodes.VERIFY_FAILED);
      await installer.rollback(ctx);
      await installer.rollbackReboot(ctx);
      await installer.verifyRollbackReboot(ctx);
      await expectEnv(rig, '2', '0', '0');
    });

    it('reads a variable the environment does not define as undefined', async () => {
      const rig = await makeRig();
      expect(await rig.bootloader.getEnv(['otakit_never_set', 'mender_boot_part'])).toEqual({
        otakit_never_set: undefined,
        mender_boot_part: '2',
      });
    });
  });
}

describe('the U-Boot environment fw_setenv writes', () => {
  it('is a redundant pair whose newest valid copy holds what the installer set', async () => {
    const rig = await ubootRig();
    const { installer, ctx } = await device(rig);
    await installer.download(ctx, payload({ 'rootfs.ext4': randomBytes(100_000) }));
    await installer.install(ctx);
    const copies = ubootEnvCopies(await readFile(rig.envImage), [0, ENV_SIZE], ENV_SIZE);
    // Both copies carry a valid CRC: the newest has the switch, the older one the state before it.
    expect(copies).toHaveLength(2);
    expect(copies[0]!.vars).toEqual(
      expect.arrayContaining(['mender_boot_part=3', 'upgrade_available=1', 'bootcount=0']),
    );
    expect(copies[1]!.vars).toEqual(expect.arrayContaining(['mender_boot_part=2']));
  });
});
