/**
 * Writes Mender Artifacts (format v3) the way `mender-artifact write rootfs-image|module-image`
 * does: the same outer members in the same order, the same header documents and manifest.
 *
 * The manifest (which needs every payload digest) comes before the data in the outer tar, and the
 * tar header of the data member needs its size. So: uncompressed artifacts whose payloads can be
 * read twice (paths, in-memory content) are written in two passes, hash then write, with no
 * temporary file; otherwise each payload is read once, hashed while it is copied into the
 * (compressed) data tar in a temporary file, which is then copied into the output after the
 * header, manifest and signature. Memory use does not depend on payload size.
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
  isArtifactCompressionId,
} from './compress.js';
import type { ArtifactCompression } from './decompress.js';
import { type ArtifactSigningKey, signManifest } from './sign.js';
import { encodeTarHeader, tarEntry, tarPadding, tarTrailer } from './tar-write.js';
import { ArtifactWriteError } from './writer-errors.js';
import {
  type ArtifactImageType,
  buildHeaderInfo,
  buildTypeInfo,
  encodeMetaData,
  type HeaderSpec,
  PAYLOAD_FILE_NAME,
  SCRIPT_NAME,
  validateHeaderSpec,
} from './writer-header.js';
import { type ArtifactOutput, writeOutput } from './writer-output.js';

export type { ArtifactImageType } from './writer-header.js';
export type { ArtifactOutput } from './writer-output.js';

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

/** Options of {@link writeArtifact}; names follow `mender-artifact write` flags. */
export interface WriteArtifactOptions {
  /** `rootfs-image` (exactly one file) or `module-image` (any number of files, needs `moduleType`). */
  type: ArtifactImageType;
  /** The update module name (`-T`), e.g. `single-file`. Required for module-image. */
  moduleType?: string;
  /** `-n`: the artifact name (no whitespace, at most 256 bytes). */
  artifactName: string;
  /** `-t`/`-c`: compatible device types (at least one). */
  deviceTypes: string[];
  /** `-g`: artifact group this artifact provides. */
  artifactGroup?: string;
  /** `-N`: artifact names this artifact depends on. */
  artifactNameDepends?: string[];
  /** `-G`: artifact groups this artifact depends on. */
  artifactGroupDepends?: string[];
  /** `-p key:value`: payload provides (type-info `artifact_provides`). */
  provides?: Record<string, string>;
  /** `-d key:value`: payload depends (type-info `artifact_depends`). */
  depends?: Record<string, string | string[]>;
  /** `--clears-provides`: patterns put before the default ones. */
  clearsProvides?: string[];
  /** `-m`: meta-data, a JSON object (module-image; a rootfs-image always has an empty one). */
  metaData?: Record<string, unknown>;
  /** `-s`: state scripts. */
  scripts?: ArtifactScriptSource[];
  /** `-f`: payload files, in order. */
  files?: ArtifactPayloadSource[];
  /** `--compression`; default `gzip` as mender-artifact. */
  compression?: ArtifactCompressionId;
  /** `-k`: sign with this private key (RSA or ECDSA P-256). */
  signingKey?: ArtifactSigningKey;
  /** `--software-filesystem` (default `rootfs-image`). */
  softwareFilesystem?: string;
  /** `--software-name` (default: none for rootfs-image, the module type for module-image). */
  softwareName?: string;
  /** `--software-version` (default: the artifact name). */
  softwareVersion?: string;
  /** `--no-default-software-version`. */
  noDefaultSoftwareVersion?: boolean;
  /** `--no-default-clears-provides`. */
  noDefaultClearsProvides?: boolean;
  /** `--no-checksum-provide` (rootfs-image). */
  noChecksumProvide?: boolean;
  /** `--legacy-rootfs-image-checksum` (rootfs-image): provide `rootfs_image_checksum` instead. */
  legacyRootfsImageChecksum?: boolean;
  /** Modification time stored for the header, data and payload members; default now. */
  mtime?: Date;
  /** Directory for the temporary data tar; default `os.tmpdir()`. */
  tmpDir?: string;
  /** Aborts writing; a partially written output file is removed. */
  signal?: AbortSignal;
}

/** One payload file as written. */
export interface WrittenPayloadFile {
  /** Base name inside `data/0000.tar*`. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the content. */
  sha256: string;
}

/** What {@link writeArtifact} wrote. */
export interface WrittenArtifact {
  /** Outer member names in order, e.g. `['version', 'manifest', 'header.tar.gz', 'data/0000.tar.gz']`. */
  members: string[];
  /** The compression family. */
  compression: ArtifactCompression;
  /** The payload type (`rootfs-image` or the module type). */
  payloadType: string;
  /** The `manifest` text. */
  manifest: string;
  /** Whether `manifest.sig` was written. */
  signed: boolean;
  /** The `manifest.sig` content (base64), when signed. */
  signature?: string;
  /** The payload files. */
  files: WrittenPayloadFile[];
  /** The header-info document written. */
  headerInfo: Record<string, unknown>;
  /** The type-info document written. */
  typeInfo: Record<string, unknown>;
  /** Total bytes written to the output. */
  bytes: number;
}

const VERSION_JSON = Buffer.from('{"format":"mender","version":3}');

interface ResolvedFile {
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

async function resolveFile(file: ArtifactPayloadSource, mtime: number): Promise<ResolvedFile> {
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

async function resolveScript(
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

async function compressToBuffer(data: Buffer, compression: ArtifactCompressionId): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(Readable.from([data]), await createCompressor(compression), async (source) => {
    for await (const chunk of source) chunks.push(chunk as Buffer);
  });
  return Buffer.concat(chunks);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

interface PreparedData {
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
async function prepareData(
  files: ResolvedFile[],
  compression: ArtifactCompressionId,
  options: WriteArtifactOptions,
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

/**
 * Writes a Mender Artifact (format v3) to a file path or a writable stream (which is ended).
 * Memory use does not depend on payload size (see the module notes for the one- and two-pass
 * modes). A failed write removes a partially written output file.
 *
 * @example
 * ```ts
 * await writeArtifact(
 *   { type: 'module-image', moduleType: 'single-file', artifactName: 'app-1.2', deviceTypes: ['rpi4'],
 *     files: ['dest_dir', 'filename', 'app.bin'], compression: 'zstd', signingKey: readFileSync('key.pem') },
 *   'app-1.2.mender',
 * );
 * ```
 */
export async function writeArtifact(
  options: WriteArtifactOptions,
  output: ArtifactOutput,
): Promise<WrittenArtifact> {
  const compression = options.compression ?? 'gzip';
  if (!isArtifactCompressionId(compression))
    throw optionsError(`unknown compression: ${String(compression)}`);
  if (options.type !== 'rootfs-image' && options.type !== 'module-image') {
    throw optionsError(`unsupported artifact type: ${String(options.type)}`);
  }
  const payloadType = options.type === 'rootfs-image' ? 'rootfs-image' : (options.moduleType ?? '');
  if (options.type === 'module-image' && !options.moduleType)
    throw optionsError('module-image needs a module type');
  const spec: HeaderSpec = { ...options, imageType: options.type, payloadType };
  validateHeaderSpec(spec);

  const mtime = Math.floor((options.mtime ?? new Date()).getTime() / 1000);
  const files = await Promise.all((options.files ?? []).map((f) => resolveFile(f, mtime)));
  if (options.type === 'rootfs-image' && files.length !== 1) {
    throw optionsError(`a rootfs-image needs exactly one file, got ${files.length}`);
  }
  const names = new Set<string>();
  for (const f of files) {
    if (!PAYLOAD_FILE_NAME.test(f.name))
      throw optionsError(`payload file name not allowed: ${JSON.stringify(f.name)}`);
    if (Buffer.byteLength(f.name) > 100)
      throw optionsError(`payload file name longer than 100 bytes: ${f.name}`);
    if (names.has(f.name)) throw optionsError(`duplicate payload file name: ${f.name}`);
    names.add(f.name);
  }
  const scripts = await Promise.all((options.scripts ?? []).map(resolveScript));
  const scriptNames = new Set<string>();
  for (const s of scripts) {
    if (!SCRIPT_NAME.test(s.name)) throw optionsError(`invalid state script name: ${JSON.stringify(s.name)}`);
    if (Buffer.byteLength(s.name) > 100)
      throw optionsError(`state script name longer than 100 bytes: ${s.name}`);
    if (scriptNames.has(s.name)) throw optionsError(`duplicate state script: ${s.name}`);
    scriptNames.add(s.name);
  }
  const metaData = options.metaData === undefined ? undefined : encodeMetaData(options.metaData);

  const suffix = compressionIdSuffix(compression);
  const data = await prepareData(files, compression, options);
  try {
    const { written, dataSize } = data;

    // 2. Header tar, in memory (it holds JSON documents and scripts only).
    if (options.type === 'rootfs-image') spec.rootfsChecksum = written[0]?.sha256;
    const headerInfo = buildHeaderInfo(spec);
    const typeInfo = buildTypeInfo(spec);
    const headerParts = [tarEntry({ name: 'header-info' }, Buffer.from(JSON.stringify(headerInfo)))];
    for (const s of scripts)
      headerParts.push(tarEntry({ name: `scripts/${s.name}`, mode: s.mode }, s.content));
    headerParts.push(tarEntry({ name: 'headers/0000/type-info' }, Buffer.from(JSON.stringify(typeInfo))));
    if (options.type === 'rootfs-image' || metaData !== undefined) {
      headerParts.push(tarEntry({ name: 'headers/0000/meta-data' }, metaData ?? Buffer.alloc(0)));
    }
    headerParts.push(tarTrailer());
    const header = await compressToBuffer(Buffer.concat(headerParts), compression);
    const headerName = `header.tar${suffix}`;

    // 3. Manifest and signature.
    const manifestLines = written.map((f) => `${f.sha256}  data/0000/${f.name}\n`);
    manifestLines.push(`${sha256(header)}  ${headerName}\n`, `${sha256(VERSION_JSON)}  version\n`);
    const manifest = manifestLines.join('');
    const manifestBytes = Buffer.from(manifest);
    const signature = options.signingKey ? signManifest(manifestBytes, options.signingKey) : undefined;

    // 4. The outer tar.
    const dataName = `data/0000.tar${suffix}`;
    const members = ['version', 'manifest'];
    if (signature !== undefined) members.push('manifest.sig');
    members.push(headerName, dataName);
    async function* outer(): AsyncGenerator<Buffer> {
      yield tarEntry({ name: 'version' }, VERSION_JSON);
      yield tarEntry({ name: 'manifest' }, manifestBytes);
      if (signature !== undefined) yield tarEntry({ name: 'manifest.sig' }, Buffer.from(signature, 'ascii'));
      yield tarEntry({ name: headerName, mtime }, header);
      yield encodeTarHeader({ name: dataName, size: dataSize, mtime });
      let copied = 0;
      for await (const chunk of data.open()) {
        copied += chunk.length;
        yield chunk;
      }
      if (copied !== dataSize) throw new Error(`data tar has ${copied} bytes, expected ${dataSize}`);
      yield tarPadding(dataSize);
      yield tarTrailer();
    }
    const bytes = await writeOutput(outer(), output, options.signal);
    const result: WrittenArtifact = {
      members,
      compression: compressionKind(compression),
      payloadType,
      manifest,
      signed: signature !== undefined,
      files: written,
      headerInfo,
      typeInfo,
      bytes,
    };
    if (signature !== undefined) result.signature = signature;
    return result;
  } finally {
    await data.cleanup();
  }
}
