// Replays an FsJournal and reconstructs what a power cut after any prefix of it would leave on disk,
// under a conservative model of a POSIX file system (the one ALICE and CrashMonkey test against):
//
// - file data reaches the disk only through fsync of that file; until then a cut may drop it, or
//   tear it at a 4 KiB block boundary with the file's new size kept (the rest reads as zeros);
// - a directory entry (create, mkdir, rename, link, unlink) is durable only once that directory is
//   fsynced; until then a cut may lose it. An fsync of a file does not make its name durable;
// - an inode's data and its names are independent: metadata may reach the disk before data
//   (the zero-length-file-after-rename failure of delayed allocation) or not at all.
//
// The recorded root directory itself is durable and empty when the journal starts.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { FsOp } from './fs-journal.js';

/**
 * What a power cut leaves, from most to least lost:
 * - `durable`: only what fsync made durable (data and directory entries);
 * - `metadata-first`: every directory change reached the disk, no unsynced data did;
 * - `torn`: every directory change reached the disk, unsynced data torn at a block boundary;
 * - `flushed`: everything reached the disk (what a SIGKILL leaves).
 */
export type CrashView = 'durable' | 'metadata-first' | 'torn' | 'flushed';

/** Every {@link CrashView}. */
export const CRASH_VIEWS: readonly CrashView[] = ['durable', 'metadata-first', 'torn', 'flushed'];

/** The block size at which unsynced data tears. */
export const BLOCK = 4096;

interface FileInode {
  kind: 'file';
  vol: Buffer;
  dur: Buffer;
  /** Byte ranges changed since the last fsync. */
  dirty: [number, number][];
  mode: number;
}

interface DirInode {
  kind: 'dir';
  vol: Map<string, Inode>;
  dur: Map<string, Inode>;
}

type Inode = FileInode | DirInode;

/** A directory tree as files (relative path → data and mode) and directories (relative paths). */
export interface FlatTree {
  dirs: string[];
  files: Map<string, { data: Buffer; mode: number }>;
}

function newDir(): DirInode {
  return { kind: 'dir', vol: new Map(), dur: new Map() };
}

/** The in-memory file system the journal is replayed into, one operation at a time. */
export class CrashModel {
  readonly root: string;
  readonly #top: DirInode = newDir();
  readonly #handles = new Map<number, FileInode>();
  /** Operations applied so far. */
  applied = 0;

  constructor(root: string) {
    this.root = root;
  }

  #split(path: string): string[] {
    const rel = relative(this.root, path);
    if (rel === '') return [];
    if (rel.startsWith('..')) throw new Error(`crash-model: ${path} is outside ${this.root}`);
    return rel.split(sep);
  }

  #parent(path: string): { dir: DirInode; name: string } {
    const parts = this.#split(path);
    const name = parts.pop();
    if (name === undefined) throw new Error('crash-model: the root has no parent');
    let dir = this.#top;
    for (const p of parts) {
      const next = dir.vol.get(p);
      if (next?.kind !== 'dir') throw new Error(`crash-model: no directory ${p} on the way to ${path}`);
      dir = next;
    }
    return { dir, name };
  }

  #lookup(path: string): Inode {
    const { dir, name } = this.#parent(path);
    const node = dir.vol.get(name);
    if (!node) throw new Error(`crash-model: ${path} does not exist at op ${this.applied}`);
    return node;
  }

  #file(path: string): FileInode {
    const node = this.#lookup(path);
    if (node.kind !== 'file') throw new Error(`crash-model: ${path} is a directory`);
    return node;
  }

  /** Applies the next journal operation. */
  apply(op: FsOp): void {
    switch (op.kind) {
      case 'mkdir': {
        const { dir, name } = this.#parent(op.path);
        if (!dir.vol.has(name)) dir.vol.set(name, newDir());
        break;
      }
      case 'open': {
        const { dir, name } = this.#parent(op.path);
        let node = dir.vol.get(name);
        if (node === undefined) {
          if (!op.create) throw new Error(`crash-model: open of missing ${op.path}`);
          node = { kind: 'file', vol: Buffer.alloc(0), dur: Buffer.alloc(0), dirty: [], mode: op.mode };
          dir.vol.set(name, node);
        }
        if (node.kind !== 'file') throw new Error(`crash-model: ${op.path} is a directory`);
        if (op.trunc && node.vol.length > 0) {
          node.dirty.push([0, node.vol.length]);
          node.vol = Buffer.alloc(0);
        }
        this.#handles.set(op.handle, node);
        break;
      }
      case 'write': {
        const node = this.#handles.get(op.handle) ?? this.#file(op.path);
        const end = op.offset + op.data.length;
        if (end > node.vol.length) {
          const grown = Buffer.alloc(end);
          node.vol.copy(grown);
          node.vol = grown;
        }
        op.data.copy(node.vol, op.offset);
        node.dirty.push([op.offset, end]);
        break;
      }
      case 'truncate': {
        const node = this.#file(op.path);
        const grown = Buffer.alloc(op.size);
        node.vol.copy(grown, 0, 0, Math.min(op.size, node.vol.length));
        node.dirty.push([Math.min(op.size, node.vol.length), Math.max(op.size, node.vol.length)]);
        node.vol = grown;
        break;
      }
      case 'fsync': {
        const node = this.#handles.get(op.handle) ?? this.#file(op.path);
        node.dur = Buffer.from(node.vol);
        node.dirty = [];
        break;
      }
      case 'dirfsync': {
        const node = op.path === this.root ? this.#top : this.#lookup(op.path);
        if (node.kind !== 'dir') throw new Error(`crash-model: dirfsync of file ${op.path}`);
        node.dur = new Map(node.vol);
        break;
      }
      case 'rename': {
        const from = this.#parent(op.from);
        const node = from.dir.vol.get(from.name);
        if (!node) throw new Error(`crash-model: rename of missing ${op.from}`);
        from.dir.vol.delete(from.name);
        const to = this.#parent(op.to);
        to.dir.vol.set(to.name, node);
        break;
      }
      case 'link': {
        const node = this.#lookup(op.from);
        const to = this.#parent(op.to);
        to.dir.vol.set(to.name, node);
        break;
      }
      case 'unlink':
      case 'rmtree': {
        const { dir, name } = this.#parent(op.path);
        dir.vol.delete(name);
        break;
      }
      case 'chmod': {
        const node = this.#lookup(op.path);
        if (node.kind === 'file') node.mode = op.mode & 0o7777;
        break;
      }
      case 'close':
        this.#handles.delete(op.handle);
        break;
      case 'mark':
        break;
    }
    this.applied++;
  }

  /** The tree a power cut now would leave, under `view`. */
  view(view: CrashView): FlatTree {
    const out: FlatTree = { dirs: [], files: new Map() };
    const walk = (dir: DirInode, prefix: string) => {
      const entries = view === 'durable' ? dir.dur : dir.vol;
      for (const name of [...entries.keys()].sort()) {
        const node = entries.get(name)!;
        const path = prefix === '' ? name : `${prefix}/${name}`;
        if (node.kind === 'dir') {
          out.dirs.push(path);
          walk(node, path);
        } else {
          out.files.set(path, { data: fileData(node, view), mode: node.mode });
        }
      }
    };
    walk(this.#top, '');
    return out;
  }
}

function fileData(node: FileInode, view: CrashView): Buffer {
  if (view === 'flushed' || node.dirty.length === 0) return node.vol;
  if (view === 'durable' || view === 'metadata-first') return node.dur;
  // torn: the file keeps its new size; unsynced bytes from a block boundary in the middle of the
  // unsynced range on are lost (read as zeros).
  const lo = Math.min(...node.dirty.map((d) => d[0]));
  const hi = Math.max(...node.dirty.map((d) => d[1]));
  const tearAt = Math.floor((lo + hi) / 2 / BLOCK) * BLOCK;
  const data = Buffer.from(node.vol);
  for (const [start, end] of node.dirty) {
    const from = Math.max(start, tearAt);
    const to = Math.min(end, data.length);
    if (from < to) data.fill(0, from, to);
  }
  return data;
}

/** A digest of a tree (names, modes and contents), to replay each distinct crash state once. */
export function treeDigest(tree: FlatTree): string {
  const h = createHash('sha256');
  for (const d of tree.dirs) h.update(`d ${d}\n`);
  for (const [path, f] of [...tree.files.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    h.update(`f ${path} ${f.mode.toString(8)} `)
      .update(createHash('sha256').update(f.data).digest())
      .update('\n');
  }
  return h.digest('hex');
}

/** Writes a tree into `dir` (which must exist and be empty). */
export async function materialize(tree: FlatTree, dir: string): Promise<void> {
  for (const d of tree.dirs) await mkdir(join(dir, d), { recursive: true });
  for (const [path, f] of tree.files) await writeFile(join(dir, path), f.data, { mode: f.mode });
}

/** Reads a real directory into a {@link FlatTree}. */
export async function readTree(dir: string): Promise<FlatTree> {
  const out: FlatTree = { dirs: [], files: new Map() };
  const walk = async (abs: string, prefix: string) => {
    for (const name of (await readdir(abs)).sort()) {
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const st = await stat(join(abs, name));
      if (st.isDirectory()) {
        out.dirs.push(path);
        await walk(join(abs, name), path);
      } else {
        out.files.set(path, { data: await readFile(join(abs, name)), mode: st.mode & 0o7777 });
      }
    }
  };
  await walk(dir, '');
  return out;
}
