// Records the file-system operations a process makes under one directory, synchronously, in the
// order they complete: the input of the power-cut replayer (crash-model.ts).
//
// The recorder patches `node:fs/promises` (and the FileHandle prototype) in place and calls
// `syncBuiltinESMExports()`, so every module's `import { open } from 'node:fs/promises'` sees the
// wrapper, whether vitest transformed the module or not. Operations on paths outside the recorded
// root pass through unrecorded (the in-process sandbox writes its own state elsewhere).
import { constants, existsSync, statSync } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { resolve, sep } from 'node:path';

/** One recorded operation. Paths are absolute; `handle` numbers the open() that made a handle. */
export type FsOp =
  | { kind: 'mkdir'; path: string }
  /** `mode`: the file's permission bits right after the open (what a create gave it, umask applied). */
  | {
      kind: 'open';
      path: string;
      handle: number;
      create: boolean;
      exclusive: boolean;
      trunc: boolean;
      mode: number;
    }
  | { kind: 'write'; path: string; handle: number; offset: number; data: Buffer }
  | { kind: 'truncate'; path: string; size: number }
  | { kind: 'fsync'; path: string; handle: number }
  | { kind: 'dirfsync'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'link'; from: string; to: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'rmtree'; path: string }
  | { kind: 'chmod'; path: string; mode: number }
  | { kind: 'close'; path: string; handle: number }
  /** Not a file-system operation: a point of the run the test names (e.g. "the key is in use"). */
  | { kind: 'mark'; label: string };

/** The kinds of {@link FsOp}. */
export type FsOpKind = FsOp['kind'];

interface HandleInfo {
  id: number;
  path: string;
  dir: boolean;
  append: boolean;
  pos: number;
}

type AnyFn = (...args: never[]) => unknown;

function flagsOf(flags: string | number | undefined): {
  write: boolean;
  create: boolean;
  exclusive: boolean;
  trunc: boolean;
  append: boolean;
} {
  if (flags === undefined) flags = 'r';
  if (typeof flags === 'number') {
    const acc = flags & 3;
    return {
      write: acc === constants.O_WRONLY || acc === constants.O_RDWR,
      create: (flags & constants.O_CREAT) !== 0,
      exclusive: (flags & constants.O_EXCL) !== 0,
      trunc: (flags & constants.O_TRUNC) !== 0,
      append: (flags & constants.O_APPEND) !== 0,
    };
  }
  const f = flags.replace('s', '');
  return {
    write: f !== 'r',
    create: f.startsWith('w') || f.startsWith('a'),
    exclusive: f.includes('x'),
    trunc: f.startsWith('w'),
    append: f.startsWith('a'),
  };
}

/**
 * Records the mutating file-system operations under `root` while started. Reads are not recorded.
 * Use one recorder at a time; {@link FsJournal.stop} restores the original functions.
 */
export class FsJournal {
  readonly root: string;
  readonly ops: FsOp[] = [];
  #handles = new WeakMap<FileHandle, HandleInfo>();
  #nextHandle = 1;
  #restore: (() => void)[] = [];

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Adds a named point to the journal (not a file-system operation). */
  mark(label: string): void {
    this.ops.push({ kind: 'mark', label });
  }

  #inside(path: unknown): string | undefined {
    if (typeof path !== 'string') return undefined;
    const abs = resolve(path);
    return abs === this.root || abs.startsWith(this.root + sep) ? abs : undefined;
  }

  #patch<T extends object>(target: T, name: keyof T & string, make: (orig: AnyFn) => AnyFn): void {
    const orig = target[name] as unknown as AnyFn;
    (target as Record<string, unknown>)[name] = make(orig);
    this.#restore.push(() => {
      (target as Record<string, unknown>)[name] = orig;
    });
  }

  /** Starts recording: patches `node:fs/promises` and the FileHandle prototype. */
  async start(): Promise<void> {
    const self = this;
    const ops = this.ops;
    const probe = await fsp.open(this.root, 'r');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();

    this.#patch(
      fsp,
      'open',
      (orig) =>
        async function open(this: unknown, path: string, flags?: string | number, mode?: number) {
          const handle = (await (orig as (...a: unknown[]) => Promise<FileHandle>)(
            path,
            flags,
            mode,
          )) as FileHandle;
          const abs = self.#inside(path);
          if (abs === undefined) return handle;
          const f = flagsOf(flags);
          const st = statSync(abs);
          const dir = st.isDirectory();
          const info: HandleInfo = { id: self.#nextHandle++, path: abs, dir, append: f.append, pos: 0 };
          self.#handles.set(handle, info);
          if (!dir && f.write) {
            ops.push({
              kind: 'open',
              path: abs,
              handle: info.id,
              create: f.create,
              exclusive: f.exclusive,
              trunc: f.trunc,
              mode: st.mode & 0o7777,
            });
          }
          return handle;
        },
    );
    this.#patch(fsp, 'mkdir', (orig) => async (path: string, options?: { recursive?: boolean }) => {
      const abs = self.#inside(path);
      const missing: string[] = [];
      if (abs !== undefined) {
        let p = abs;
        while (p.length > self.root.length && !existsSync(p)) {
          missing.unshift(p);
          p = resolve(p, '..');
        }
      }
      const r = await (orig as (...a: unknown[]) => Promise<unknown>)(path, options);
      for (const m of missing) ops.push({ kind: 'mkdir', path: m });
      return r;
    });
    this.#patch(fsp, 'rename', (orig) => async (from: string, to: string) => {
      await (orig as (...a: unknown[]) => Promise<void>)(from, to);
      const a = self.#inside(from);
      const b = self.#inside(to);
      if (a !== undefined && b !== undefined) ops.push({ kind: 'rename', from: a, to: b });
      else if (a !== undefined || b !== undefined)
        throw new Error(`fs-journal: rename across the recorded root: ${from} -> ${to}`);
    });
    this.#patch(fsp, 'link', (orig) => async (from: string, to: string) => {
      await (orig as (...a: unknown[]) => Promise<void>)(from, to);
      const a = self.#inside(from);
      const b = self.#inside(to);
      if (a !== undefined && b !== undefined) ops.push({ kind: 'link', from: a, to: b });
    });
    const removal = (orig: AnyFn) => async (path: string, options?: unknown) => {
      const abs = self.#inside(path);
      const existed = abs !== undefined && existsSync(abs);
      const isDir = existed && statSync(abs).isDirectory();
      await (orig as (...a: unknown[]) => Promise<void>)(path, options);
      if (existed) ops.push(isDir ? { kind: 'rmtree', path: abs } : { kind: 'unlink', path: abs });
    };
    this.#patch(fsp, 'rm', removal);
    this.#patch(fsp, 'unlink', removal);
    this.#patch(fsp, 'rmdir', removal);
    this.#patch(fsp, 'truncate', (orig) => async (path: string, size = 0) => {
      await (orig as (...a: unknown[]) => Promise<void>)(path, size);
      const abs = self.#inside(path);
      if (abs !== undefined) ops.push({ kind: 'truncate', path: abs, size });
    });
    this.#patch(fsp, 'chmod', (orig) => async (path: string, mode: number) => {
      await (orig as (...a: unknown[]) => Promise<void>)(path, mode);
      const abs = self.#inside(path);
      if (abs !== undefined) ops.push({ kind: 'chmod', path: abs, mode });
    });
    // writeFile and appendFile on a path: an open, a write and a close.
    // Whole-file writes to one path are serialized while recording, so each append's offset is the
    // size the file had just before it (concurrent appends to a log would otherwise race).
    const queues = new Map<string, Promise<unknown>>();
    const whole =
      (append: boolean) =>
      (orig: AnyFn) =>
      async (path: string, data: string | Uint8Array, options?: unknown) => {
        const abs = self.#inside(path);
        if (abs === undefined) return (orig as (...a: unknown[]) => Promise<void>)(path, data, options);
        const task = (queues.get(abs) ?? Promise.resolve()).then(async () => {
          const before = existsSync(abs) ? statSync(abs).size : 0;
          await (orig as (...a: unknown[]) => Promise<void>)(path, data, options);
          const encoding =
            typeof options === 'string'
              ? (options as BufferEncoding)
              : (options as { encoding?: BufferEncoding } | undefined)?.encoding;
          const bytes = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.from(data);
          const id = self.#nextHandle++;
          const mode = statSync(abs).mode & 0o7777;
          ops.push({
            kind: 'open',
            path: abs,
            handle: id,
            create: true,
            exclusive: false,
            trunc: !append,
            mode,
          });
          ops.push({ kind: 'write', path: abs, handle: id, offset: append ? before : 0, data: bytes });
          ops.push({ kind: 'close', path: abs, handle: id });
        });
        queues.set(
          abs,
          task.catch(() => undefined),
        );
        return task;
      };
    this.#patch(fsp, 'writeFile', whole(false));
    this.#patch(fsp, 'appendFile', whole(true));
    for (const name of ['copyFile', 'cp', 'symlink', 'utimes', 'lchown', 'chown'] as const) {
      this.#patch(fsp, name, (orig) => async (...args: unknown[]) => {
        if (args.some((a) => self.#inside(a) !== undefined)) {
          throw new Error(`fs-journal: ${name} is not modelled by the power-cut replayer`);
        }
        return (orig as (...a: unknown[]) => unknown)(...args);
      });
    }

    // FileHandle methods.
    const info = (h: FileHandle) => self.#handles.get(h);
    this.#patch(
      proto,
      'write',
      (orig) =>
        async function write(this: FileHandle, ...args: unknown[]) {
          const h = info(this);
          const at = h && !h.dir ? (h.append ? (await this.stat()).size : undefined) : undefined;
          const r = await (
            orig as (...a: unknown[]) => Promise<{ bytesWritten: number; buffer: unknown }>
          ).apply(this, args);
          if (!h || h.dir) return r;
          let bytes: Buffer;
          let position: unknown;
          if (typeof args[0] === 'string') {
            bytes = Buffer.from(args[0], (typeof args[2] === 'string' ? args[2] : 'utf8') as BufferEncoding);
            position = args[1];
          } else {
            const buf = Buffer.from(
              (args[0] as Uint8Array).buffer,
              (args[0] as Uint8Array).byteOffset,
              (args[0] as Uint8Array).byteLength,
            );
            let offset = 0;
            if (typeof args[1] === 'object' && args[1] !== null) {
              const o = args[1] as { offset?: number; position?: number | null };
              offset = o.offset ?? 0;
              position = o.position;
            } else {
              offset = (args[1] as number | undefined) ?? 0;
              position = args[3];
            }
            bytes = buf.subarray(offset);
          }
          bytes = Buffer.from(bytes.subarray(0, r.bytesWritten));
          let offsetInFile: number;
          if (at !== undefined) offsetInFile = at;
          else if (typeof position === 'number' && position >= 0) offsetInFile = position;
          else {
            offsetInFile = h.pos;
            h.pos += bytes.length;
          }
          ops.push({ kind: 'write', path: h.path, handle: h.id, offset: offsetInFile, data: bytes });
          return r;
        },
    );
    this.#patch(
      proto,
      'writeFile',
      (orig) =>
        async function writeFile(this: FileHandle, data: string | Uint8Array, options?: unknown) {
          const h = info(this);
          const at = h && !h.dir ? (h.append ? (await this.stat()).size : h.pos) : 0;
          await (orig as (...a: unknown[]) => Promise<void>).call(this, data, options);
          if (!h || h.dir) return;
          const encoding =
            typeof options === 'string'
              ? (options as BufferEncoding)
              : (options as { encoding?: BufferEncoding } | undefined)?.encoding;
          const bytes = typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.from(data);
          if (!h.append) h.pos += bytes.length;
          ops.push({ kind: 'write', path: h.path, handle: h.id, offset: at, data: bytes });
        },
    );
    for (const name of ['sync', 'datasync'] as const) {
      this.#patch(
        proto,
        name,
        (orig) =>
          async function sync(this: FileHandle) {
            await (orig as (...a: unknown[]) => Promise<void>).call(this);
            const h = info(this);
            if (!h) return;
            ops.push(
              h.dir ? { kind: 'dirfsync', path: h.path } : { kind: 'fsync', path: h.path, handle: h.id },
            );
          },
      );
    }
    this.#patch(
      proto,
      'truncate',
      (orig) =>
        async function truncate(this: FileHandle, size = 0) {
          await (orig as (...a: unknown[]) => Promise<void>).call(this, size);
          const h = info(this);
          if (h && !h.dir) ops.push({ kind: 'truncate', path: h.path, size });
        },
    );
    this.#patch(
      proto,
      'chmod',
      (orig) =>
        async function chmod(this: FileHandle, mode: number) {
          await (orig as (...a: unknown[]) => Promise<void>).call(this, mode);
          const h = info(this);
          if (h && !h.dir) ops.push({ kind: 'chmod', path: h.path, mode });
        },
    );
    this.#patch(
      proto,
      'close',
      (orig) =>
        async function close(this: FileHandle) {
          await (orig as (...a: unknown[]) => Promise<void>).call(this);
          const h = info(this);
          if (h && !h.dir) ops.push({ kind: 'close', path: h.path, handle: h.id });
        },
    );
    for (const name of ['appendFile', 'writev'] as const) {
      this.#patch(
        proto,
        name,
        (orig) =>
          async function unsupported(this: FileHandle, ...args: unknown[]) {
            if (info(this))
              throw new Error(`fs-journal: FileHandle.${name} is not modelled by the power-cut replayer`);
            return (orig as (...a: unknown[]) => unknown).apply(this, args);
          },
      );
    }
    syncBuiltinESMExports();
  }

  /** Stops recording and restores the original functions. */
  stop(): void {
    for (const undo of this.#restore.splice(0).reverse()) undo();
    syncBuiltinESMExports();
  }

  /** Journal entries as one line each (data as its length, paths relative to the root), for a failure report. */
  describe(from = 0, to = this.ops.length): string {
    return this.ops
      .slice(from, to)
      .map(
        (op, i) =>
          `${from + i}: ${JSON.stringify(op, (k, v) => (k === 'data' ? `<${(v as { data: unknown[] }).data?.length ?? 0} bytes>` : typeof v === 'string' ? v.replace(this.root, '') : v))}`,
      )
      .join('\n');
  }
}
