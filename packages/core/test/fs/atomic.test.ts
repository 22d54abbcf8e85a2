import { spawn } from 'node:child_process';
import {
  constants as fsConstants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fsyncDir,
  mkdirDurable,
  readJsonFile,
  writeFileAtomic,
  writeJsonFileAtomic,
} from '../../src/index.js';
import { version } from './fixtures/versions.js';

const root = mkdtempSync(join(tmpdir(), 'otakit-atomic-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let seq = 0;
function freshDir(): string {
  const dir = join(root, `case-${seq++}`);
  mkdirSync(dir);
  return dir;
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const posix = process.platform !== 'win32';

async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

describe('writeFileAtomic', () => {
  it('round-trips strings (as UTF-8) and bytes, leaving only the target', async () => {
    const dir = freshDir();
    const path = join(dir, 'f.txt');
    await writeFileAtomic(path, 'héllo ✓\n');
    expect(readFileSync(path, 'utf8')).toBe('héllo ✓\n');
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
    await writeFileAtomic(path, bytes);
    expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
    await writeFileAtomic(path, '');
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(readdirSync(dir)).toEqual(['f.txt']);
  });

  it.runIf(posix)('applies the mode exactly, under umask 0 and 0o077, on create and on replace', async () => {
    const dir = freshDir();
    for (const mask of [0o000, 0o077]) {
      for (const wanted of [0o600, 0o644, 0o640, 0o755, 0o666]) {
        const fresh = join(dir, `fresh-${mask}-${wanted}`);
        await withUmask(mask, () => writeFileAtomic(fresh, 'x', { mode: wanted }));
        expect(mode(fresh), `create ${wanted.toString(8)} under umask ${mask.toString(8)}`).toBe(wanted);

        const replaced = join(dir, `replaced-${mask}-${wanted}`);
        writeFileSync(replaced, 'old', { mode: 0o700 });
        await withUmask(mask, () => writeFileAtomic(replaced, 'new', { mode: wanted }));
        expect(mode(replaced), `replace ${wanted.toString(8)} under umask ${mask.toString(8)}`).toBe(wanted);
        expect(readFileSync(replaced, 'utf8')).toBe('new');
      }
      const defaulted = join(dir, `default-${mask}`);
      await withUmask(mask, () => writeFileAtomic(defaulted, 'x'));
      expect(mode(defaulted)).toBe(0o644);
    }
  });

  it('replaces an existing file with a new inode and keeps no temp files behind', async () => {
    const dir = freshDir();
    const path = join(dir, 'state.json');
    writeFileSync(path, 'old content');
    const before = statSync(path).ino;
    await writeFileAtomic(path, 'content 0');
    // Judged after one write: later writes may be given the freed number of the first inode back.
    if (posix) expect(statSync(path).ino).not.toBe(before);
    for (let i = 1; i < 25; i++) await writeFileAtomic(path, `content ${i}`);
    expect(readFileSync(path, 'utf8')).toBe('content 24');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('with overwrite: false fails with EEXIST on an existing file and leaves it untouched', async () => {
    const dir = freshDir();
    const path = join(dir, 'f');
    writeFileSync(path, 'original', { mode: 0o600 });
    const before = statSync(path);
    const err = await writeFileAtomic(path, 'replacement', { overwrite: false, mode: 0o644 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as NodeJS.ErrnoException).code).toBe('EEXIST');
    expect(readFileSync(path, 'utf8')).toBe('original');
    const after = statSync(path);
    expect(after.ino).toBe(before.ino);
    expect(after.mode).toBe(before.mode);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('with overwrite: false creates a missing file', async () => {
    const dir = freshDir();
    const path = join(dir, 'f');
    await writeFileAtomic(path, 'created', { overwrite: false, mode: 0o600 });
    expect(readFileSync(path, 'utf8')).toBe('created');
    if (posix) expect(mode(path)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('of concurrent create-if-absent writes, exactly one wins and its content is the file', async () => {
    for (let round = 0; round < 10; round++) {
      const dir = freshDir();
      const path = join(dir, 'once');
      const writers = Array.from({ length: 8 }, (_, i) => `writer ${i}\n`.repeat(1000 + i));
      const results = await Promise.allSettled(
        writers.map((content) => writeFileAtomic(path, content, { overwrite: false })),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as NodeJS.ErrnoException).code).toBe('EEXIST');
      }
      expect(readFileSync(path, 'utf8')).toBe(writers[winners[0]!]);
      expect(readdirSync(dir)).toEqual(['once']);
    }
  });

  it('on a failure while writing the temp file, keeps the old content and removes the temp file', async () => {
    const dir = freshDir();
    const path = join(dir, 'f');
    writeFileSync(path, 'old');
    // Not a string or bytes: the temp file is created, then writing it throws.
    const bad = { length: 3 } as unknown as Uint8Array;
    const err = await writeFileAtomic(path, bad).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('on a failure to rename over the target, leaves the target as it was and removes the temp file', async () => {
    const dir = freshDir();
    const path = join(dir, 'occupied');
    // A non-empty directory cannot be replaced by a file: the rename fails after the temp is written.
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'kept');
    await expect(writeFileAtomic(path, 'data')).rejects.toMatchObject({
      code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST|EPERM)$/),
    });
    expect(readFileSync(join(path, 'inside'), 'utf8')).toBe('kept');
    expect(readdirSync(dir)).toEqual(['occupied']);
  });

  it('fails with ENOENT, creating nothing, when the directory does not exist (or was removed)', async () => {
    const dir = freshDir();
    rmSync(dir, { recursive: true });
    await expect(writeFileAtomic(join(dir, 'f'), 'data')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(root)).not.toContain(dir.slice(root.length + 1));
  });

  it.runIf(posix)(
    'never leaves a torn file: a writer SIGKILLed at random moments leaves one complete version',
    async () => {
      const dir = freshDir();
      const path = join(dir, 'data.json');
      const complete = new Set([version(0), version(1)]);
      const child = fileURLToPath(new URL('./fixtures/atomic-writer.ts', import.meta.url));
      const kills = 8;
      let killedMidRun = 0;
      for (let i = 0; i < kills; i++) {
        // After the first round the file exists: each kill lands while it is being replaced.
        const { writes } = await runUntilKilled(child, path, i === 0 ? 1 : 1 + Math.floor(Math.random() * 3));
        if (writes > 0) killedMidRun++;
        const text = readFileSync(path, 'utf8');
        expect(complete.has(text), `after kill ${i}: ${text.length} bytes`).toBe(true);
        const parsed = JSON.parse(text) as { version: number; end: number };
        expect(parsed.end).toBe(parsed.version);
        // A killed writer may leave its temp file; never anything else, and never the target torn.
        for (const name of readdirSync(dir)) {
          expect(name === 'data.json' || /^\.data\.json\.[0-9a-f]{16}\.tmp$/.test(name), name).toBe(true);
        }
      }
      expect(killedMidRun).toBe(kills);
    },
    120_000,
  );
});

/**
 * Runs the writer child until it has completed `minWrites` writes, then SIGKILLs it after a random
 * delay (0-40 ms, a few writes of 4 MiB). Resolves with how many writes it reported.
 */
function runUntilKilled(child: string, path: string, minWrites: number): Promise<{ writes: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let writes = 0;
    let killScheduled = false;
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      writes += d.toString().split('wrote\n').length - 1;
      if (!killScheduled && writes >= minWrites) {
        killScheduled = true;
        setTimeout(() => p.kill('SIGKILL'), Math.floor(Math.random() * 40));
      }
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ writes });
      else reject(new Error(`writer exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

describe('fsyncDir', () => {
  it('flushes an existing directory', async () => {
    await expect(fsyncDir(freshDir())).resolves.toBeUndefined();
  });

  it('throws for a missing directory, and for a regular file where the platform can tell', async () => {
    await expect(fsyncDir(join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    if (process.platform === 'linux') {
      const file = join(freshDir(), 'f');
      writeFileSync(file, 'x');
      await expect(fsyncDir(file)).rejects.toMatchObject({ code: 'ENOTDIR' });
    }
  });
});

describe('readJsonFile and writeJsonFileAtomic', () => {
  it('round-trips a value as indented JSON with a final newline', async () => {
    const dir = freshDir();
    const path = join(dir, 'v.json');
    const value = { a: 1, list: ['x', { y: null }], s: 'é' };
    await writeJsonFileAtomic(path, value);
    expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(value, null, 2)}\n`);
    expect(await readJsonFile<typeof value>(path)).toEqual(value);
    expect(readdirSync(dir)).toEqual(['v.json']);
  });

  it('passes the options on', async () => {
    const dir = freshDir();
    const path = join(dir, 'v.json');
    await withUmask(0, () => writeJsonFileAtomic(path, { n: 1 }, { mode: 0o600 }));
    if (posix) expect(mode(path)).toBe(0o600);
    await expect(writeJsonFileAtomic(path, { n: 2 }, { overwrite: false })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(await readJsonFile(path)).toEqual({ n: 1 });
  });

  it('writes nothing for a value JSON cannot encode', async () => {
    const dir = freshDir();
    await expect(writeJsonFileAtomic(join(dir, 'v.json'), { n: 1n })).rejects.toThrow(TypeError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reads a missing file as undefined and rejects content that is not JSON', async () => {
    const dir = freshDir();
    expect(await readJsonFile(join(dir, 'missing.json'))).toBeUndefined();
    writeFileSync(join(dir, 'bad.json'), '{"version": 1');
    await expect(readJsonFile(join(dir, 'bad.json'))).rejects.toThrow(SyntaxError);
    await expect(readJsonFile(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('mkdirDurable', () => {
  /** The directories fsynced (opened with O_DIRECTORY and synced) while `fn` runs. */
  async function dirsSynced(fn: () => Promise<void>): Promise<string[]> {
    const synced: string[] = [];
    const open = fsp.open;
    (fsp as { open: unknown }).open = async (path: string, flags?: number | string, m?: number) => {
      const handle = await open(path, flags, m);
      if (typeof flags === 'number' && (flags & (fsConstants.O_DIRECTORY ?? 0)) !== 0) {
        const sync = handle.sync.bind(handle);
        handle.sync = async () => {
          await sync();
          synced.push(path);
        };
      }
      return handle;
    };
    syncBuiltinESMExports();
    try {
      await fn();
    } finally {
      (fsp as { open: unknown }).open = open;
      syncBuiltinESMExports();
    }
    return synced;
  }

  it.runIf(posix)('flushes the parent of every directory it creates, with the mode asked', async () => {
    const base = freshDir();
    const target = join(base, 'x', 'y', 'z');
    const synced = await dirsSynced(() => mkdirDurable(target, { mode: 0o700 }));
    expect(synced.sort()).toEqual([base, join(base, 'x'), join(base, 'x', 'y')].sort());
    expect(mode(join(base, 'x'))).toBe(0o700);
    expect(mode(target)).toBe(0o700);
  });

  it.runIf(posix)('flushes the entry of a directory that already exists', async () => {
    const base = freshDir();
    mkdirSync(join(base, 'x'));
    expect(await dirsSynced(() => mkdirDurable(join(base, 'x')))).toEqual([base]);
  });
});
