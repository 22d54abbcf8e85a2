import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GRUBENV_SIGNATURE } from '../../src/installers/bootloader/grubenv.js';
import {
  commitBootPart,
  FileBootloader,
  GrubBootloader,
  GrubEnvBlock,
  InstallerError,
  InstallerErrorCodes,
  readABState,
  revertBootPart,
  switchBootPart,
  UBootBootloader,
} from '../../src/installers/index.js';
import { tempDir } from './helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const fakeBin = join(here, 'fake-bin');
const fixtures = join(here, 'fixtures');

describe('FileBootloader', () => {
  it('starts on the first partition and sets several variables at once', async () => {
    const dir = await tempDir();
    const bl = new FileBootloader({ file: join(dir, 'env.json') });
    expect(await readABState(bl)).toEqual({ bootPart: '2', upgradeAvailable: false, bootcount: 0 });
    await bl.setEnv({ foo: 'bar', mender_boot_part: '3' });
    expect(await bl.getEnv(['foo', 'mender_boot_part', 'missing'])).toEqual({
      foo: 'bar',
      mender_boot_part: '3',
      missing: undefined,
    });
    await bl.setEnv({ foo: null });
    expect((await bl.getEnv(['foo'])).foo).toBeUndefined();
    // Another instance on the same file sees the same environment.
    expect(
      (await new FileBootloader({ file: join(dir, 'env.json') }).getEnv(['mender_boot_part']))
        .mender_boot_part,
    ).toBe('3');
  });

  it('counts trial boots and commits', async () => {
    const dir = await tempDir();
    const bl = new FileBootloader({ file: join(dir, 'env.json') });
    await switchBootPart(bl, '3');
    expect(await bl.getEnv(['mender_boot_part_hex'])).toEqual({ mender_boot_part_hex: '3' });
    expect(await bl.boot()).toEqual({ part: '3', reverted: false, attempts: 1 });
    expect(await readABState(bl)).toEqual({ bootPart: '3', upgradeAvailable: true, bootcount: 1 });
    await commitBootPart(bl);
    expect(await bl.boot()).toEqual({ part: '3', reverted: false, attempts: 1 });
    expect(await readABState(bl)).toEqual({ bootPart: '3', upgradeAvailable: false, bootcount: 0 });
    expect(await bl.bootedPart()).toBe('3');
  });

  it('reverts to the other partition once bootcount passes bootlimit (altbootcmd)', async () => {
    const dir = await tempDir();
    const bl = new FileBootloader({ file: join(dir, 'env.json'), bootlimit: 2 });
    await switchBootPart(bl, '3');
    // Three uncommitted reboots: 1 and 2 are within the limit, the third reverts.
    expect((await bl.boot()).part).toBe('3');
    expect((await bl.boot()).part).toBe('3');
    expect(await bl.boot()).toEqual({ part: '2', reverted: true, attempts: 1 });
    expect(await readABState(bl)).toEqual({ bootPart: '2', upgradeAvailable: false, bootcount: 3 });
  });

  it('reboots a crashing image until the limit reverts, and never loops when both crash', async () => {
    const dir = await tempDir();
    const bl = new FileBootloader({ file: join(dir, 'env.json') });
    await switchBootPart(bl, '3');
    expect(await bl.boot({ crashes: (p) => p === '3' })).toEqual({ part: '2', reverted: true, attempts: 2 });
    await switchBootPart(bl, '3');
    const both = await bl.boot({ crashes: () => true });
    expect(both.reverted).toBe(true);
    expect(both.part).toBe('2');
  });

  it('rejects variable names the tools cannot store', async () => {
    const dir = await tempDir();
    const bl = new FileBootloader({ file: join(dir, 'env.json') });
    expect(() => bl.setEnv({ 'a=b': '1' })).toThrow(InstallerError);
    expect(() => bl.setEnv({ 'a b': '1' })).toThrow(/invalid bootloader variable/);
  });
});

describe('UBootBootloader (fake fw_printenv / fw_setenv)', () => {
  async function setup(extraSetenv: string[] = []) {
    const dir = await tempDir();
    const envFile = join(dir, 'uboot.env');
    await writeFile(
      envFile,
      'bootcmd=run mender_setup\nmender_boot_part=2\nupgrade_available=0\nbootcount=0\n',
    );
    const bl = new UBootBootloader({
      printenv: [join(fakeBin, 'fw_printenv'), '-c', envFile],
      setenv: [...extraSetenv, join(fakeBin, 'fw_setenv'), '-c', envFile],
    });
    return { bl, envFile };
  }

  it('reads variables, reporting undefined ones as undefined', async () => {
    const { bl } = await setup();
    expect(await bl.getEnv(['mender_boot_part', 'nope', 'bootcmd'])).toEqual({
      mender_boot_part: '2',
      nope: undefined,
      bootcmd: 'run mender_setup',
    });
  });

  it('writes all variables through one fw_setenv -s script', async () => {
    const { bl, envFile } = await setup();
    await switchBootPart(bl, '3');
    expect(await readFile(`${envFile}.last-script`, 'utf8')).toBe(
      'mender_boot_part=3\nmender_boot_part_hex=3\nupgrade_available=1\nbootcount=0\n',
    );
    expect(await readABState(bl)).toEqual({ bootPart: '3', upgradeAvailable: true, bootcount: 0 });
    await bl.setEnv({ bootcmd: null, extra: 'with spaces in it' });
    expect(await bl.getEnv(['bootcmd', 'extra'])).toEqual({ bootcmd: undefined, extra: 'with spaces in it' });
    await revertBootPart(bl, '2');
    expect(await readABState(bl)).toEqual({ bootPart: '2', upgradeAvailable: false, bootcount: 0 });
  });

  it('writes the U-Boot fw-utils script syntax when asked', async () => {
    const dir = await tempDir();
    const envFile = join(dir, 'uboot.env');
    const bl = new UBootBootloader({
      setenv: [join(fakeBin, 'fw_setenv'), '-c', envFile],
      scriptFormat: 'space',
    });
    await bl.setEnv({ upgrade_available: '1', old: null });
    expect(await readFile(`${envFile}.last-script`, 'utf8')).toBe('upgrade_available 1\nold\n');
  });

  it('uses the hex partition number for mender_boot_part_hex', async () => {
    const { bl } = await setup();
    await switchBootPart(bl, '10');
    expect(await bl.getEnv(['mender_boot_part_hex'])).toEqual({ mender_boot_part_hex: 'a' });
  });

  it('fails with a typed error when fw_setenv fails, leaving the environment unchanged', async () => {
    const { bl, envFile } = await setup(['env', 'FAKE_FW_FAIL=1']);
    const before = await readFile(envFile, 'utf8');
    await expect(switchBootPart(bl, '3')).rejects.toMatchObject({
      code: InstallerErrorCodes.BOOTLOADER,
      message: expect.stringContaining('Cannot write environment'),
    });
    expect(await readFile(envFile, 'utf8')).toBe(before);
  });

  it('fails with a typed error when fw_printenv fails for another reason', async () => {
    const bl = new UBootBootloader({ printenv: [join(fakeBin, 'fw_printenv')] });
    await expect(bl.getEnv(['x'])).rejects.toMatchObject({ code: InstallerErrorCodes.BOOTLOADER });
  });

  it('refuses values with line breaks (they would inject script lines)', async () => {
    const { bl } = await setup();
    await expect(bl.setEnv({ a: '1\nupgrade_available 1' })).rejects.toMatchObject({
      code: InstallerErrorCodes.BOOTLOADER,
    });
  });
});

describe('GrubEnvBlock', () => {
  it('parses a block written by grub-editenv 2.06', async () => {
    const block = GrubEnvBlock.parse(await readFile(join(fixtures, 'grubenv-2.06-mender')));
    expect(block.size).toBe(1024);
    expect(block.entries()).toEqual([
      ['mender_boot_part', '3'],
      ['upgrade_available', '1'],
      ['bootcount', '0'],
      ['multi', 'line1\nline2'],
    ]);
    expect(GrubEnvBlock.parse(await readFile(join(fixtures, 'grubenv-2.06-empty'))).entries()).toEqual([]);
  });

  it('writes the same bytes as grub-editenv for the same edits', async () => {
    const created = GrubEnvBlock.create();
    expect(created.toBuffer()).toEqual(await readFile(join(fixtures, 'grubenv-2.06-empty')));
    created
      .set('mender_boot_part', '2')
      .set('upgrade_available', '0')
      .set('bootcount', '0')
      .set('path', 'C:\\dir')
      .set('multi', 'line1\nline2')
      .set('mender_boot_part', '3')
      .set('upgrade_available', '1')
      .unset('path');
    expect(created.toBuffer()).toEqual(await readFile(join(fixtures, 'grubenv-2.06-mender')));
  });

  it('round-trips escapes and keeps the block size', () => {
    const block = GrubEnvBlock.create(2048).set('a', 'back\\slash').set('b', 'x\ny\\\nz').set('c', '');
    const again = GrubEnvBlock.parse(block.toBuffer());
    expect(again.size).toBe(2048);
    expect(again.entries()).toEqual([
      ['a', 'back\\slash'],
      ['b', 'x\ny\\\nz'],
      ['c', ''],
    ]);
  });

  it('refuses content that does not fit the block', () => {
    const block = GrubEnvBlock.create().set('big', 'x'.repeat(1000));
    expect(() => block.toBuffer()).toThrow(/does not fit/);
  });

  it('rejects blocks without the signature', () => {
    expect(() => GrubEnvBlock.parse(Buffer.from('not a grubenv'))).toThrow(/no signature/);
  });

  it('yields a block or a typed error for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, signed) => {
        const input = signed ? Buffer.concat([Buffer.from(GRUBENV_SIGNATURE), bytes]) : Buffer.from(bytes);
        try {
          GrubEnvBlock.parse(input).entries();
        } catch (err) {
          expect(err).toBeInstanceOf(InstallerError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('GrubBootloader', () => {
  it('reads and writes the block itself when grub-editenv is absent', async () => {
    const dir = await tempDir();
    const envFile = join(dir, 'grubenv');
    await writeFile(envFile, await readFile(join(fixtures, 'grubenv-2.06-mender')));
    const bl = new GrubBootloader({ envFile, editenv: [join(dir, 'no-such-grub-editenv')] });
    expect(await readABState(bl)).toEqual({ bootPart: '3', upgradeAvailable: true, bootcount: 0 });
    await commitBootPart(bl);
    expect(bl.usesTool).toBe(false);
    const raw = await readFile(envFile);
    expect(raw.length).toBe(1024);
    expect(GrubEnvBlock.parse(raw).entries()).toEqual([
      ['mender_boot_part', '3'],
      ['upgrade_available', '0'],
      ['bootcount', '0'],
      ['multi', 'line1\nline2'],
    ]);
    await bl.setEnv({ multi: null });
    expect(await bl.getEnv(['multi', 'mender_boot_part'])).toEqual({
      multi: undefined,
      mender_boot_part: '3',
    });
  });

  it('creates a block when the file does not exist (built-in writer)', async () => {
    const dir = await tempDir();
    const envFile = join(dir, 'grubenv');
    const bl = new GrubBootloader({ envFile, editenv: false });
    expect(await bl.getEnv(['mender_boot_part'])).toEqual({ mender_boot_part: undefined });
    await switchBootPart(bl, '3');
    const block = GrubEnvBlock.parse(await readFile(envFile));
    expect(block.get('mender_boot_part')).toBe('3');
    expect(block.get('upgrade_available')).toBe('1');
  });

  it('drives grub-editenv list / set / unset when configured', async () => {
    const dir = await tempDir();
    const envFile = join(dir, 'grubenv');
    const bl = new GrubBootloader({ envFile, editenv: [join(fakeBin, 'grub-editenv')] });
    await bl.setEnv({ mender_boot_part: '3', upgrade_available: '1', old: null });
    await bl.setEnv({ upgrade_available: '0' });
    expect(await bl.getEnv(['mender_boot_part', 'upgrade_available', 'old'])).toEqual({
      mender_boot_part: '3',
      upgrade_available: '0',
      old: undefined,
    });
    expect(bl.usesTool).toBe(true);
    expect((await readFile(`${envFile}.calls`, 'utf8')).split('\n')).toEqual([
      'create ',
      'set mender_boot_part=3 upgrade_available=1',
      'unset old',
      'set upgrade_available=0',
      'list ',
      '',
    ]);
  });

  it('reports a failing grub-editenv as a bootloader error', async () => {
    const dir = await tempDir();
    const bl = new GrubBootloader({ envFile: join(dir, 'grubenv'), editenv: ['false'] });
    await expect(bl.setEnv({ a: '1' })).rejects.toMatchObject({ code: InstallerErrorCodes.BOOTLOADER });
  });
});
