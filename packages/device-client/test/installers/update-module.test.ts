import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InstallerErrorCodes, UpdateModuleInstaller } from '../../src/installers/index.js';
import type { InstallContext, PayloadFile } from '../../src/installers/types.js';
import { makeContext, payload, tempDir } from './helpers.js';

const modulesDir = fileURLToPath(new URL('../fixtures/modules', import.meta.url));
const run = promisify(execFile);

async function setup(type: string, overrides: Partial<InstallContext> = {}, timeoutMs = 20_000) {
  const dir = await tempDir();
  const installer = new UpdateModuleInstaller({ modulesDir, timeoutMs, killGraceMs: 200 });
  const ctx = makeContext(join(dir, 'work'), {
    payloadType: type,
    currentArtifactName: 'release-1',
    currentArtifactGroup: 'stable',
    ...overrides,
  });
  return { dir, installer, ctx };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Payload files that record whether the producer was released (its `finally` ran). */
function tracked(files: Record<string, string | Buffer>): {
  files: AsyncIterable<PayloadFile>;
  released: () => boolean;
} {
  let released = false;
  async function* gen(): AsyncIterable<PayloadFile> {
    try {
      yield* payload(files);
    } finally {
      released = true;
    }
  }
  return { files: gen(), released: () => released };
}

describe('UpdateModuleInstaller', () => {
  it('supports a payload type only when an executable of that name is in the modules directory', () => {
    const installer = new UpdateModuleInstaller({ modulesDir });
    expect(installer.supports('single-file')).toBe(true);
    expect(installer.supports('directory')).toBe(true);
    expect(installer.supports('not-executable')).toBe(false);
    expect(installer.supports('no-such-module')).toBe(false);
    expect(installer.supports('../modules/single-file')).toBe(false);
    expect(installer.supports('/bin/sh')).toBe(false);
    expect(installer.supports('.')).toBe(false);
    expect(installer.supports('')).toBe(false);
  });

  it('refuses to download a payload type it does not support', async () => {
    const { installer, ctx } = await setup('../modules/single-file');
    await expect(installer.download(ctx, payload({ a: 'b' }))).rejects.toMatchObject({
      code: InstallerErrorCodes.UNSUPPORTED,
    });
  });

  describe('single-file style module (file tree)', () => {
    it('stores the files in files/, builds the tree and installs, then commits and cleans up', async () => {
      const { dir, installer, ctx } = await setup('single-file');
      ctx.header.metaData = { note: 'hi' };
      const dest = join(dir, 'etc');
      await mkdir(dest);
      await writeFile(join(dest, 'app.conf'), 'version=1\n');
      await installer.download(
        ctx,
        payload({ 'app.conf': 'version=2\n', dest_dir: dest, filename: 'app.conf' }),
      );

      const tree = installer.treeDir(ctx);
      expect(tree).toBe(join(ctx.workDir, 'modules', 'v3', 'payloads', '0000', 'tree'));
      expect((await readdir(tree)).sort()).toEqual([
        'current_artifact_group',
        'current_artifact_name',
        'current_device_type',
        'files',
        'header',
        'tmp',
        'version',
      ]);
      const read = (p: string) => readFile(join(tree, p), 'utf8');
      expect(await read('version')).toBe('3\n');
      expect(await read('current_artifact_name')).toBe('release-1\n');
      expect(await read('current_artifact_group')).toBe('stable\n');
      expect(await read('current_device_type')).toBe('test-device\n');
      expect(await read('header/artifact_name')).toBe('release-2');
      expect(await read('header/artifact_group')).toBe('stable');
      expect(await read('header/payload_type')).toBe('single-file');
      expect(JSON.parse(await read('header/header-info'))).toEqual(ctx.header.headerInfo);
      expect(JSON.parse(await read('header/type-info'))).toEqual(ctx.header.typeInfo);
      expect(JSON.parse(await read('header/meta-data'))).toEqual({ note: 'hi' });
      expect(await read('header/header-info')).toBe(JSON.stringify(ctx.header.headerInfo));
      expect((await readdir(join(tree, 'files'))).sort()).toEqual(['app.conf', 'dest_dir', 'filename']);
      expect(await read('files/app.conf')).toBe('version=2\n');
      expect(await readFile(join(dest, 'app.conf'), 'utf8')).toBe('version=1\n');

      await installer.install(ctx);
      expect(await readFile(join(dest, 'app.conf'), 'utf8')).toBe('version=2\n');
      expect(await installer.needsReboot(ctx)).toBe('No');
      expect(await installer.supportsRollback(ctx)).toBe(true);
      await installer.commit(ctx);
      await installer.cleanup(ctx);
      expect(await exists(tree)).toBe(false);
      expect(ctx.lines).toContain('single-file ArtifactInstall (stderr): single-file: ArtifactInstall');
      expect(ctx.lines).toContain('single-file Cleanup (stderr): single-file: Cleanup');
    });

    it('rolls back to the previous file', async () => {
      const { dir, installer, ctx } = await setup('single-file');
      const dest = join(dir, 'etc');
      await mkdir(dest);
      await writeFile(join(dest, 'app.conf'), 'version=1\n');
      await installer.download(
        ctx,
        payload({ 'app.conf': 'version=2\n', dest_dir: dest, filename: 'app.conf' }),
      );
      await installer.install(ctx);
      await installer.install(ctx); // repeated after an interruption: the original stays the backup
      await installer.rollback(ctx);
      await installer.failure(ctx);
      await installer.cleanup(ctx);
      expect(await readFile(join(dest, 'app.conf'), 'utf8')).toBe('version=1\n');
    });

    it('continues with new instances at each step, and a restarted Download starts clean', async () => {
      const { dir, ctx } = await setup('single-file');
      const fresh = () => new UpdateModuleInstaller({ modulesDir });
      const dest = join(dir, 'etc');
      await fresh().download(ctx, payload({ 'old.bin': 'x', dest_dir: dest, filename: 'old.bin' }));
      await fresh().download(ctx, payload({ 'app.conf': 'v2', dest_dir: dest, filename: 'app.conf' }));
      expect((await readdir(join(fresh().treeDir(ctx), 'files'))).sort()).toEqual([
        'app.conf',
        'dest_dir',
        'filename',
      ]);
      await fresh().install(ctx);
      await fresh().commit(ctx);
      await fresh().cleanup(ctx);
      await fresh().cleanup(ctx);
      expect(await readFile(join(dest, 'app.conf'), 'utf8')).toBe('v2');
    });

    it('writes empty files for absent values, as the Mender client does', async () => {
      const dir = await tempDir();
      const installer = new UpdateModuleInstaller({ modulesDir });
      const ctx = makeContext(join(dir, 'work'), { payloadType: 'single-file' });
      await installer.download(ctx, payload({}));
      const read = (p: string) => readFile(join(installer.treeDir(ctx), p), 'utf8');
      expect(await read('current_artifact_name')).toBe('');
      expect(await read('current_artifact_group')).toBe('');
      expect(await read('header/meta-data')).toBe('');
    });

    it('refuses install before download', async () => {
      const { installer, ctx } = await setup('single-file');
      await expect(installer.install(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.BAD_STATE });
      // Cleanup still runs the module on a rebuilt tree, and removes it.
      await installer.cleanup(ctx);
      expect(ctx.lines).toContain('single-file Cleanup (stderr): single-file: Cleanup');
      expect(await exists(installer.treeDir(ctx))).toBe(false);
    });

    it.each(['../evil', '/tmp/evil', 'a/b'])('refuses the payload file name %j', async (name) => {
      const { dir, installer, ctx } = await setup('single-file');
      const { files, released } = tracked({ [name]: 'evil', other: 'x' });
      await expect(installer.download(ctx, files)).rejects.toMatchObject({
        code: InstallerErrorCodes.UNSAFE_NAME,
      });
      expect(released()).toBe(true);
      expect(await exists(join(dir, 'work', 'modules', 'v3', 'payloads', 'evil'))).toBe(false);
      expect(await exists(join(installer.treeDir(ctx), 'evil'))).toBe(false);
    });
  });

  describe('directory style module (tar payload)', () => {
    async function makeTar(dir: string, files: Record<string, string>): Promise<Buffer> {
      const src = join(dir, `tar-src-${Object.keys(files).join('-')}`);
      await mkdir(src, { recursive: true });
      for (const [name, content] of Object.entries(files)) await writeFile(join(src, name), content);
      const tar = join(dir, `${Object.keys(files).join('-')}.tar`);
      await run('tar', ['-cf', tar, '-C', src, '.']);
      return readFile(tar);
    }

    it('replaces the directory and commits', async () => {
      const { dir, installer, ctx } = await setup('directory');
      const dest = join(dir, 'www');
      await mkdir(dest);
      await writeFile(join(dest, 'old.html'), 'old');
      const tar = await makeTar(dir, { 'index.html': '<h1>v2</h1>', 'app.js': 'run()' });
      await installer.download(ctx, payload({ 'update.tar': tar, dest_dir: dest }));
      await installer.install(ctx);
      expect((await readdir(dest)).sort()).toEqual(['app.js', 'index.html']);
      expect(await readFile(join(dest, 'index.html'), 'utf8')).toBe('<h1>v2</h1>');
      await installer.commit(ctx);
      await installer.cleanup(ctx);
      expect(await exists(`${dest}.previous`)).toBe(false);
    });

    it('puts the previous copy back on rollback, even after a repeated install', async () => {
      const { dir, installer, ctx } = await setup('directory');
      const dest = join(dir, 'www');
      await mkdir(dest);
      await writeFile(join(dest, 'old.html'), 'old');
      const tar = await makeTar(dir, { 'index.html': 'new' });
      await installer.download(ctx, payload({ 'update.tar': tar, dest_dir: dest }));
      await installer.install(ctx);
      await installer.install(ctx);
      expect(await installer.supportsRollback(ctx)).toBe(true);
      await installer.rollback(ctx);
      await installer.failure(ctx);
      await installer.cleanup(ctx);
      expect(await readdir(dest)).toEqual(['old.html']);
    });
  });

  describe('streaming module (stream-next and FIFOs)', () => {
    it('streams every file through its FIFO, with sizes, and installs from the staged copies', async () => {
      const { dir, installer, ctx } = await setup('stream-copy');
      const dest = join(dir, 'dest');
      ctx.header.metaData = { dest };
      const big = bytes('big', 3 * 1024 * 1024 + 17);
      const { files, released } = tracked({ 'big.bin': big, 'empty.txt': '', 'small.txt': 'hello' });
      await installer.download(ctx, files);
      expect(released()).toBe(true);
      expect(ctx.lines).toContain(
        `stream-copy DownloadWithFileSizes (stderr): stream-copy: got streams/big.bin (${big.length} bytes)`,
      );
      expect(ctx.lines).toContain(
        'stream-copy DownloadWithFileSizes (stderr): stream-copy: got streams/empty.txt (0 bytes)',
      );
      expect(ctx.lines).toContain(
        'stream-copy DownloadWithFileSizes (stderr): stream-copy: got streams/small.txt (5 bytes)',
      );
      const listing = ctx.lines.find((l) => l.includes('tree has'));
      expect(listing).toContain('stream-next');
      expect(listing).toContain('streams');
      // The streams tree only exists during Download, and nothing was stored in files/.
      const tree = installer.treeDir(ctx);
      expect((await readdir(tree)).sort()).toEqual([
        'current_artifact_group',
        'current_artifact_name',
        'current_device_type',
        'header',
        'tmp',
        'version',
      ]);
      expect(await exists(dest)).toBe(false);

      await installer.install(ctx);
      expect(sha(await readFile(join(dest, 'big.bin')))).toBe(sha(big));
      expect(await readFile(join(dest, 'small.txt'), 'utf8')).toBe('hello');
      expect(await readFile(join(dest, 'empty.txt'), 'utf8')).toBe('');
      expect(await installer.supportsRollback(ctx)).toBe(false);
      await installer.commit(ctx);
      await installer.cleanup(ctx);
    });

    it('streams binary payloads byte for byte', async () => {
      const { dir, installer, ctx } = await setup('stream-copy');
      const dest = join(dir, 'dest');
      ctx.header.metaData = { dest };
      const data = bytes('binary', 200_000);
      await installer.download(ctx, payload({ 'rootfs.bin': data }));
      await installer.install(ctx);
      expect(sha(await readFile(join(dest, 'rootfs.bin')))).toBe(sha(data));
    });

    it('calls Download and sends bare stream names when the module does not ask for sizes', async () => {
      const { dir, installer, ctx } = await setup('stream-copy');
      const dest = join(dir, 'dest');
      ctx.header.metaData = { dest, sizes: 'No' };
      await installer.download(ctx, payload({ 'a.txt': 'alpha', 'b.txt': 'beta' }));
      expect(ctx.lines).toContain('stream-copy ProvidePayloadFileSizes: No');
      expect(ctx.lines).toContain(
        'stream-copy Download (stderr): stream-copy: got streams/a.txt (streams/a.txt bytes)',
      );
      await installer.install(ctx);
      expect(await readFile(join(dest, 'b.txt'), 'utf8')).toBe('beta');
    });

    it('handles a payload with no files', async () => {
      const { dir, installer, ctx } = await setup('stream-copy');
      ctx.header.metaData = { dest: join(dir, 'dest') };
      await installer.download(ctx, payload({}));
      await installer.install(ctx);
      expect(await readdir(join(dir, 'dest'))).toEqual([]);
    });

    it('fails when the module stops reading before the last file, releasing the producer', async () => {
      const { installer, ctx } = await setup('stream-partial');
      const { files, released } = tracked({ one: 'first', two: 'second', three: 'third' });
      await expect(installer.download(ctx, files)).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_FAILED,
        message: expect.stringContaining('stopped reading stream-next'),
      });
      expect(released()).toBe(true);
    });

    it('reports the module failure when it exits non-zero in Download', async () => {
      const { installer, ctx } = await setup('stream-fail');
      await expect(installer.download(ctx, payload({ one: 'first' }))).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_FAILED,
        message: expect.stringMatching(/Download failed \(exit 2\): stream-fail: refusing streams\/one/),
      });
    });

    it('refuses an unsafe file name without leaving the module waiting on stream-next', async () => {
      const { installer, ctx } = await setup('stream-copy', {}, 25_000);
      ctx.header.metaData = { dest: '/nonexistent' };
      const { files, released } = tracked({ fine: 'x', '../evil': 'evil' });
      await expect(installer.download(ctx, files)).rejects.toMatchObject({
        code: InstallerErrorCodes.UNSAFE_NAME,
      });
      expect(released()).toBe(true);
      expect(await exists(join(installer.treeDir(ctx), '..', 'evil'))).toBe(false);
    });

    it('fails when the payload stream breaks mid-file', async () => {
      const { installer, ctx } = await setup('stream-copy');
      ctx.header.metaData = { dest: '/nonexistent' };
      async function* broken(): AsyncIterable<PayloadFile> {
        const stream = new Readable({ read() {} });
        stream.push(Buffer.from('partial data'));
        setImmediate(() => stream.destroy(new Error('connection reset')));
        yield { name: 'big.bin', size: 1000, stream };
      }
      await expect(installer.download(ctx, broken())).rejects.toThrow(/connection reset/);
    });
  });

  describe('failures, timeouts and reboots', () => {
    it('fails ArtifactInstall and runs the rollback states', async () => {
      const { installer, ctx } = await setup('fail-install');
      await installer.download(ctx, payload({ 'data.bin': 'x' }));
      await expect(installer.install(ctx)).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_FAILED,
        message: 'fail-install ArtifactInstall failed (exit 3): fail-install: no space left on device',
      });
      expect(await installer.supportsRollback(ctx)).toBe(true);
      await installer.rollback(ctx);
      await installer.failure(ctx);
      await installer.cleanup(ctx);
      const states = ctx.lines
        .filter((l) => l.includes('(stderr): fail-install: '))
        .map((l) => l.split(' ')[1]);
      expect(states).toEqual([
        'ProvidePayloadFileSizes',
        'Download',
        'ArtifactInstall',
        'ArtifactInstall',
        'SupportsRollback',
        'ArtifactRollback',
        'ArtifactFailure',
        'Cleanup',
      ]);
    });

    it('kills a module that hangs past its time limit, with everything it started', async () => {
      const dir = await tempDir();
      const installer = new UpdateModuleInstaller({ modulesDir, timeoutMs: 1000, killGraceMs: 100 });
      const ctx = makeContext(join(dir, 'work'), { payloadType: 'hang' });
      await installer.download(ctx, payload({ 'x.bin': 'x' }));
      await expect(installer.install(ctx)).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_TIMEOUT,
      });
      const pid = Number((await readFile(join(installer.treeDir(ctx), 'tmp', 'sleep.pid'), 'utf8')).trim());
      expect(pid).toBeGreaterThan(0);
      // Gone, or a zombie waiting for init to reap it: either way no longer running.
      const state = await readFile(`/proc/${pid}/stat`, 'utf8').then(
        (stat) => stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0],
        () => 'gone',
      );
      expect(['gone', 'Z', 'X']).toContain(state);
      expect(ctx.lines).toContain('hang ArtifactInstall (stderr): hang: waiting forever');
      await installer.cleanup(ctx);
    });

    it('stops a module when the context is aborted', async () => {
      const { installer, ctx } = await setup('hang');
      await installer.download(ctx, payload({ 'x.bin': 'x' }));
      const controller = new AbortController();
      const aborted = { ...ctx, signal: controller.signal };
      const pending = installer.install(aborted);
      // Abort once the module is running (it logged its line).
      while (!ctx.lines.some((l) => l.includes('waiting forever'))) await new Promise((r) => setImmediate(r));
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: InstallerErrorCodes.ABORTED });
    });

    it('runs ArtifactReboot when the module answers Yes', async () => {
      const { installer, ctx } = await setup('reboot-module');
      ctx.header.metaData = { reboot: 'Yes' };
      await installer.download(ctx, payload({}));
      await installer.install(ctx);
      expect(await installer.needsReboot(ctx)).toBe('Yes');
      await expect(installer.verifyReboot(ctx)).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_FAILED,
      });
      await installer.reboot(ctx);
      await installer.verifyReboot(ctx);
      await installer.commit(ctx);
      expect(ctx.lines).toContain('reboot-module ArtifactReboot (stderr): reboot-module: ArtifactReboot');
    });

    it('reboots the system itself when the module answers Automatic', async () => {
      const dir = await tempDir();
      let reboots = 0;
      const installer = new UpdateModuleInstaller({
        modulesDir,
        systemReboot: async () => {
          reboots++;
        },
      });
      const ctx = makeContext(join(dir, 'work'), { payloadType: 'reboot-module' });
      ctx.header.metaData = { reboot: 'Automatic' };
      await installer.download(ctx, payload({}));
      await installer.install(ctx);
      expect(await installer.needsReboot(ctx)).toBe('Automatic');
      await installer.reboot(ctx);
      expect(reboots).toBe(1);
      expect(ctx.lines.some((l) => l.startsWith('reboot-module ArtifactReboot'))).toBe(false);
      // Without a systemReboot an automatic reboot cannot happen.
      const bare = new UpdateModuleInstaller({ modulesDir });
      await expect(bare.reboot(ctx)).rejects.toMatchObject({ code: InstallerErrorCodes.UNSUPPORTED });
    });

    it('rejects answers outside the protocol', async () => {
      const { installer, ctx } = await setup('bad-answer');
      await installer.download(ctx, payload({}));
      await expect(installer.needsReboot(ctx)).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_FAILED,
        message: expect.stringContaining('"Maybe"'),
      });
      await expect(installer.supportsRollback(ctx)).rejects.toMatchObject({
        code: InstallerErrorCodes.MODULE_FAILED,
      });
    });

    it('treats an empty answer as No, and takes the installed artifact from the options', async () => {
      const dir = await tempDir();
      const installer = new UpdateModuleInstaller({
        modulesDir,
        workDir: join(dir, 'modules-v3'),
        currentArtifact: async () => ({ name: 'factory', group: 'g' }),
      });
      const ctx = makeContext(join(dir, 'work'), { payloadType: 'fail-install', payloadIndex: 1 });
      await installer.download(ctx, payload({}));
      expect(installer.treeDir(ctx)).toBe(join(dir, 'modules-v3', 'payloads', '0001', 'tree'));
      expect(await readFile(join(installer.treeDir(ctx), 'current_artifact_name'), 'utf8')).toBe('factory\n');
      expect(await readFile(join(installer.treeDir(ctx), 'current_artifact_group'), 'utf8')).toBe('g\n');
      expect(await installer.needsReboot(ctx)).toBe('No');
    });
  });
});
