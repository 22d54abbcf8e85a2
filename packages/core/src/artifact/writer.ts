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
import {
  type ArtifactPayloadSource,
  type ArtifactScriptSource,
  prepareData,
  resolveFile,
  resolveScript,
  type WrittenPayloadFile,
} from './writer-data.js';
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

export type { ArtifactPayloadSource, ArtifactScriptSource, WrittenPayloadFile } from './writer-data.js';
export type { ArtifactImageType } from './writer-header.js';
export type { ArtifactOutput } from './writer-output.js';

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

function optionsError(message: string): ArtifactWriteError {
  return new ArtifactWriteError('ERR_ARTIFACT_WRITE_OPTIONS', message);
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
