import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InstallerError, InstallerErrorCodes, SimulatedInstaller } from '../../src/installers/index.js';
import { makeContext, payload, tempDir } from './helpers.js';

async function setup() {
  const dir = await tempDir();
  const workDir = join(dir, 'work');
  const sim = new SimulatedInstaller({ dir: join(dir, 'device') });
  return { dir, workDir, sim, ctx: makeContext(workDir) };
}

function text(record: Record<string, Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v.toString()]));
}

describe('SimulatedInstaller', () => {
  it('supports rootfs-image by default and the configured payload types otherwise', async () => {
    const dir = await tempDir();
    expect(new SimulatedInstaller({ dir }).supports('rootfs-image')).toBe(true);
    expect(new SimulatedInstaller({ dir }).supports('single-file')).toBe(false);
    const custom = new SimulatedInstaller({ dir, payloadTypes: ['app'] });
    expect(custom.supports('app')).toBe(true);
    expect(custom.supports('rootfs-image')).toBe(false);
    expect(new SimulatedInstaller({ dir, payloadTypes: ['*'] }).supports('anything')).toBe(true);
  });

  it('starts on slot a with no trial', async () => {
    const { sim } = await setup();
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'a',
      upgradeAvailable: false,
      bootcount: 0,
    });
    expect(await sim.currentContent()).toEqual({});
  });

  it('runs the happy path: download to the inactive slot, switch, reboot, verify, commit', async () => {
    const { sim, ctx } = await setup();
    await sim.download(ctx, payload({ 'rootfs.img': 'new image bytes', 'extra.txt': 'x' }));
    expect(text(await sim.slotContent('b'))).toEqual({ 'extra.txt': 'x', 'rootfs.img': 'new image bytes' });
    expect(await sim.activeSlot()).toBe('a');

    await sim.install(ctx);
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'b',
      upgradeAvailable: true,
      bootcount: 0,
    });
    expect(await sim.needsReboot(ctx)).toBe('Yes');

    await sim.reboot(ctx);
    expect(await sim.bootState()).toEqual({
      booted: 'b',
      bootSlot: 'b',
      upgradeAvailable: true,
      bootcount: 1,
    });
    await sim.verifyReboot(ctx);

    await sim.commit(ctx);
    expect(await sim.bootState()).toEqual({
      booted: 'b',
      bootSlot: 'b',
      upgradeAvailable: false,
      bootcount: 0,
    });
    await sim.cleanup(ctx);

    expect(text(await sim.currentContent())).toEqual({ 'extra.txt': 'x', 'rootfs.img': 'new image bytes' });
    expect(await sim.currentArtifactName()).toBe('release-2');
    expect(ctx.lines.some((l) => l.includes('committed slot b'))).toBe(true);
  });

  it('alternates slots across consecutive updates', async () => {
    const { sim, dir } = await setup();
    for (const [i, expected] of [
      [1, 'b'],
      [2, 'a'],
      [3, 'b'],
    ] as const) {
      const ctx = makeContext(join(dir, `work-${i}`), { artifactName: `release-${i}` });
      await sim.download(ctx, payload({ 'rootfs.img': `image ${i}` }));
      await sim.install(ctx);
      await sim.reboot(ctx);
      await sim.verifyReboot(ctx);
      await sim.commit(ctx);
      await sim.cleanup(ctx);
      expect(await sim.activeSlot()).toBe(expected);
      expect(text(await sim.currentContent())).toEqual({ 'rootfs.img': `image ${i}` });
      expect(await sim.currentArtifactName()).toBe(`release-${i}`);
    }
  });

  it('reverts to the old slot when the new image does not boot (boot limit, like altbootcmd)', async () => {
    const { sim, ctx } = await setup();
    await sim.failNextBoot();
    await sim.download(ctx, payload({ 'rootfs.img': 'bad image' }));
    await sim.install(ctx);
    await sim.reboot(ctx);
    // bootlimit 1: two trial boots of b, then the bootloader switched back to a.
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'a',
      upgradeAvailable: false,
      bootcount: 2,
    });
    await expect(sim.verifyReboot(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.VERIFY_FAILED });

    expect(await sim.supportsRollback(ctx)).toBe(true);
    await sim.rollback(ctx);
    await sim.rollbackReboot(ctx);
    await sim.verifyRollbackReboot(ctx);
    await sim.failure(ctx);
    await sim.cleanup(ctx);
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'a',
      upgradeAvailable: false,
      bootcount: 0,
    });
    expect(await sim.currentArtifactName()).toBeUndefined();

    // The hook was consumed: the next update boots.
    const ctx2 = makeContext(ctx.workDir.replace(/work$/, 'work2'), { artifactName: 'release-3' });
    await sim.download(ctx2, payload({ 'rootfs.img': 'good image' }));
    await sim.install(ctx2);
    await sim.reboot(ctx2);
    await sim.verifyReboot(ctx2);
    await sim.commit(ctx2);
    expect(text(await sim.currentContent())).toEqual({ 'rootfs.img': 'good image' });
  });

  it('honours a larger boot limit', async () => {
    const dir = await tempDir();
    const sim = new SimulatedInstaller({ dir: join(dir, 'device'), bootlimit: 3 });
    const ctx = makeContext(join(dir, 'work'));
    await sim.failNextBoot();
    await sim.download(ctx, payload({ 'rootfs.img': 'bad' }));
    await sim.install(ctx);
    await sim.reboot(ctx);
    expect(await sim.bootState()).toMatchObject({ booted: 'a', upgradeAvailable: false, bootcount: 4 });
  });

  it('rolls back after a failed verify when the new slot came up', async () => {
    const { sim, ctx } = await setup();
    await sim.failNextVerify();
    await sim.download(ctx, payload({ 'rootfs.img': 'image' }));
    await sim.install(ctx);
    await sim.reboot(ctx);
    expect(await sim.activeSlot()).toBe('b');
    const err = await sim.verifyReboot(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstallerError);
    // Called again after a restart, it still fails: the verdict is kept with the update.
    await expect(
      new SimulatedInstaller({ dir: join(ctx.workDir, '..', 'device') }).verifyReboot(ctx),
    ).rejects.toThrow(/failed its check/);
    await sim.rollback(ctx);
    expect(await sim.bootState()).toMatchObject({ booted: 'b', bootSlot: 'a', upgradeAvailable: false });
    await sim.rollbackReboot(ctx);
    await sim.verifyRollbackReboot(ctx);
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'a',
      upgradeAvailable: false,
      bootcount: 0,
    });
  });

  it('rolls back after install without a reboot', async () => {
    const { sim, ctx } = await setup();
    await sim.download(ctx, payload({ 'rootfs.img': 'image' }));
    await sim.install(ctx);
    await sim.rollback(ctx);
    await sim.rollbackReboot(ctx);
    await sim.verifyRollbackReboot(ctx);
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'a',
      upgradeAvailable: false,
      bootcount: 0,
    });
  });

  it('points the bootloader away from the slot it is about to write', async () => {
    const { sim, ctx } = await setup();
    // An earlier update was installed and then abandoned without a rollback.
    const abandoned = makeContext(join(ctx.workDir, '..', 'abandoned'));
    await sim.download(abandoned, payload({ 'rootfs.img': 'abandoned' }));
    await sim.install(abandoned);
    expect((await sim.bootState()).bootSlot).toBe('b');
    await sim.download(ctx, payload({ 'rootfs.img': 'next' }));
    expect(await sim.bootState()).toEqual({
      booted: 'a',
      bootSlot: 'a',
      upgradeAvailable: false,
      bootcount: 0,
    });
    expect(ctx.lines.some((l) => l.includes('pointed it back at a'))).toBe(true);
  });

  it('refuses to commit when the new slot is not running', async () => {
    const { sim, ctx } = await setup();
    await sim.download(ctx, payload({ 'rootfs.img': 'image' }));
    await sim.install(ctx);
    await expect(sim.commit(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
  });

  it('refuses steps before download', async () => {
    const { sim, ctx } = await setup();
    await expect(sim.install(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
    await expect(sim.reboot(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
  });

  it('continues with new instances at every step and tolerates each step being repeated', async () => {
    const { dir, ctx } = await setup();
    const fresh = () => new SimulatedInstaller({ dir: join(dir, 'device') });
    await fresh().download(ctx, payload({ 'rootfs.img': 'first try, interrupted' }));
    // A restarted download rewrites the same inactive slot.
    await fresh().download(ctx, payload({ 'rootfs.img': 'image' }));
    await fresh().install(ctx);
    await fresh().install(ctx);
    await fresh().reboot(ctx);
    await fresh().reboot(ctx); // must not count a second trial boot (that would revert)
    expect(await fresh().bootState()).toEqual({
      booted: 'b',
      bootSlot: 'b',
      upgradeAvailable: true,
      bootcount: 1,
    });
    await fresh().verifyReboot(ctx);
    await fresh().verifyReboot(ctx);
    await fresh().commit(ctx);
    await fresh().commit(ctx);
    await fresh().cleanup(ctx);
    await fresh().cleanup(ctx);
    expect(await fresh().bootState()).toEqual({
      booted: 'b',
      bootSlot: 'b',
      upgradeAvailable: false,
      bootcount: 0,
    });
    expect(text(await fresh().currentContent())).toEqual({ 'rootfs.img': 'image' });
  });

  it('keeps the chosen slots when download restarts after install started', async () => {
    const { sim, ctx } = await setup();
    await sim.download(ctx, payload({ 'rootfs.img': 'image' }));
    await sim.download(ctx, payload({ 'rootfs.img': 'image again' }));
    await sim.install(ctx);
    await sim.reboot(ctx);
    await sim.verifyReboot(ctx);
    expect(text(await sim.currentContent())).toEqual({ 'rootfs.img': 'image again' });
  });

  it('stores the boot environment as JSON on disk', async () => {
    const { sim, ctx, dir } = await setup();
    await sim.download(ctx, payload({ 'rootfs.img': 'image' }));
    await sim.install(ctx);
    const stored = JSON.parse(await readFile(join(dir, 'device', 'boot-env.json'), 'utf8'));
    expect(stored.env).toMatchObject({ mender_boot_part: 'b', upgrade_available: '1', bootcount: '0' });
    expect(stored.booted).toBe('a');
  });

  it.each(['../escape', '/etc/passwd', 'a/b', '..', ''])('refuses the payload file name %j', async (name) => {
    const { sim, ctx, dir } = await setup();
    await expect(sim.download(ctx, payload({ [name]: 'evil' }))).rejects.toMatchObject({
      code: InstallerErrorCodes.UNSAFE_NAME,
    });
    await expect(readFile(join(dir, 'escape'))).rejects.toThrow(/ENOENT/);
  });
});
