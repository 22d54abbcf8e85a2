/**
 * The payload side of the writer: payload and script sources, and the data tar member (hashed
 * while written, in one pass through a temporary file or in two passes straight to the output).
 */

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type ArtifactCompressionId,
  compressionIdSuffix,
  compressionKind,
  createCompressor,
} from './compress.js';
import { encodeTarHeader, tarPadding, tarTrailer } from './tar-write.js';
import { ArtifactWriteError } from './writer-errors.js';

/**
 * A payload file: a path on disk, or a named source. A stream must give exactly `size` bytes
 * (the size goes into the tar header before the content); it is read once.
 */
export type ArtifactPayloadSource =
  | string
  | { path: string; name?: string; mode?: number }
  | { name: string; size: number; stream: AsyncIterable<Uint8Array>; mode?: number }
  | { name: string; content: Uint8Array | string; mode?: number };

/** A state script: a path (its base name is the script name) or named content. */
export type ArtifactScriptSource =
  | string
  | { path: string; name?: string; mode?: number }
  | { name: string; content: Uint8Array | string; mode?: number };

/** One payload file as written. */
export interface WrittenPayloadFile {
  /** Base name inside `data/0000.tar*`. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the content. */
  sha256: string;
}

/** A payload source made uniform. */
export interface ResolvedFile {
  name: string;
  size: number;
  mode: number;
  mtime: number;
  /** Whether `open` may be called more than once (paths and in-memory content). */
  reopenable: boolean;
  open: () => AsyncIterable<Buffer> | Iterable<Buffer>;
}

function optionsError(message: string): ArtifactWriteError {
  return new ArtifactWriteError('ERR_ARTIFACT_WRITE_OPTIONS', message);
}

/** Checks a payload source and resolves its name, size, mode and reader. */
export async function resolveFile(file: ArtifactPayloadSource, mtime: number): Promise<ResolvedFile> {
  if (typeof file === 'string' || 'path' in file) {
    const path = typeof file === 'string' ? file : file.path;
    const info = await stat(path).catch((cause: unknown) => {
      throw new ArtifactWriteError('ERR_ARTIFACT_WRITE_PAYLOAD', `cannot read payload file ${path}`, {
        cause,
      });
    });
    if (!info.isFile()) throw optionsError(`payload ${path} is not a regular file`);
    return {
      name: (typeof file === 'object' && file.name) || basename(path),
      size: info.size,
      mode: (typeof file === 'object' ? file.mode : undefined) ?? info.mode & 0o7777,
      mtime: Math.floor(info.mtimeMs / 1000),
      reopenable: true,
      open: () => createReadStream(path) as AsyncIterable<Buffer>,
    };
  }
  if ('content' in file) {
    const content = typeof file.content === 'string' ? Buffer.from(file.content) : Buffer.from(file.content);
    return {
      name: file.name,
      size: content.length,
      mode: file.mode ?? 0o644,
      mtime,
      reopenable: true,
      open: () => [content],
    };
  }
  if (!Number.isSafeInteger(file.size) || file.size < 0)
    throw optionsError(`invalid size for payload ${file.name}`);
  let used = false;
  return {
    name: file.name,
    size: file.size,
    mode: file.mode ?? 0o644,
    mtime,
    reopenable: false,
    open: () => {
      if (used) throw optionsError(`payload stream ${file.name} can be read only once`);
      used = true;
      return toBuffers(file.stream);
    },
  };
}

/** Reads a state script source. */
export async function resolveScript(
  script: ArtifactScriptSource,
): Promise<{ name: string; content: Buffer; mode: number }> {
  if (typeof script === 'string' || 'path' in script) {
    const path = typeof script === 'string' ? script : script.path;
    const [content, info] = await Promise.all([readFile(path), stat(path)]).catch((cause: unknown) => {
      throw optionsError(`cannot read script ${path}: ${(cause as Error).message}`);
    });
    return {
      name: (typeof script === 'object' && script.name) || basename(path),
      content,
      mode: (typeof script === 'object' ? script.mode : undefined) ?? info.mode & 0o7777,
    };
  }
  return { name: script.name, content: Buffer.from(script.content), mode: script.mode ?? 0o755 };
}

async function* toBuffers(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Streams the inner data tar, hashing each file; fills `written` as files complete. */
async function* dataTar(files: ResolvedFile[], written: WrittenPayloadFile[]): AsyncGenerator<Buffer> {
  for (const file of files) {
    yield encodeTarHeader({ name: file.name, size: file.size, mode: file.mode, mtime: file.mtime });
    const hash = createHash('sha256');
    let size = 0;
    for await (const buf of file.open()) {
      size += buf.length;
      if (size > file.size) break;
      hash.update(buf);
      yield buf;
    }
    if (size !== file.size) {
      throw new ArtifactWriteError(
        'ERR_ARTIFACT_WRITE_PAYLOAD',
        `payload ${file.name} gave ${size > file.size ? 'more' : 'fewer'} bytes than its declared size ${file.size}`,
      );
    }
    yield tarPadding(file.size);
    written.push({ name: file.name, size: file.size, sha256: hash.digest('hex') });
  }
  yield tarTrailer();
}

/** The data tar member, ready to be copied into the outer tar. */
export interface PreparedData {
  /** The payload files with their digests. */
  written: WrittenPayloadFile[];
  /** Size of the (compressed) data tar member. */
  dataSize: number;
  /** Streams the data tar member's bytes. */
  open: () => AsyncIterable<Buffer>;
  /** Removes temporary files. */
  cleanup: () => Promise<void>;
}

/** Reads every payload once and returns its digest, checking the declared size. */
async function hashPayload(file: ResolvedFile): Promise<WrittenPayloadFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of file.open()) {
    size += chunk.length;
    hash.update(chunk);
  }
  if (size !== file.size) {
    throw new ArtifactWriteError(
      'ERR_ARTIFACT_WRITE_PAYLOAD',
      `payload ${file.name} changed size while reading`,
    );
  }
  return { name: file.name, size, sha256: hash.digest('hex') };
}

/**
 * Makes the data tar member. Uncompressed with re-readable payloads (paths, in-memory content):
 * hash every file first, then stream the tar straight into the output (its size is known from the
 * file sizes), checking the digests again on the way. Otherwise: write the compressed tar to a
 * temporary file while hashing, then copy it.
 */
export async function prepareData(
  files: ResolvedFile[],
  compression: ArtifactCompressionId,
  options: { tmpDir?: string | undefined; signal?: AbortSignal | undefined },
): Promise<PreparedData> {
  if (compressionKind(compression) === 'none' && files.every((f) => f.reopenable)) {
    const written: WrittenPayloadFile[] = [];
    for (const f of files) {
      options.signal?.throwIfAborted();
      written.push(await hashPayload(f));
    }
    const dataSize = files.reduce((n, f) => n + 512 + f.size + tarPadding(f.size).length, 1024);
    return {
      written,
      dataSize,
      open: () => checkedDataTar(files, written),
      cleanup: async () => {},
    };
  }
  const tmp = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'otakit-artifact-'));
  try {
    const dataPath = join(tmp, `data.tar${compressionIdSuffix(compression)}`);
    const written: WrittenPayloadFile[] = [];
    await pipeline(
      Readable.from(dataTar(files, written), { objectMode: false }),
      await createCompressor(compression),
      createWriteStream(dataPath),
      options.signal ? { signal: options.signal } : {},
    );
    return {
      written,
      dataSize: (await stat(dataPath)).size,
      open: () => createReadStream(dataPath),
      cleanup: () => rm(tmp, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** The data tar of the second pass: the digests must match the first pass. */
async function* checkedDataTar(
  files: ResolvedFile[],
  expected: WrittenPayloadFile[],
): AsyncGenerator<Buffer> {
  const again: WrittenPayloadFile[] = [];
  for await (const chunk of dataTar(files, again)) {
    const last = again.at(-1);
    if (last && last.sha256 !== expected[again.length - 1]?.sha256) {
      throw new ArtifactWriteError(
        'ERR_ARTIFACT_WRITE_PAYLOAD',
        `payload ${last.name} changed while writing`,
      );
    }
    yield chunk;
  }
}
