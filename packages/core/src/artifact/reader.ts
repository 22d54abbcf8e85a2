import { createHash, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ByteReader } from './byte-reader.js';
import { readDataMember } from './data-member.js';
import { type ArtifactCompression, compressionFromSuffix, decompressor } from './decompress.js';
import { ArtifactError } from './errors.js';
import type { FileAccess } from './file-source.js';
import { boundedExpansion, type HeaderLimits, parseHeaderTar } from './header.js';
import { checkPath, parseManifest } from './manifest.js';
import { type Diagnosis, ManifestLedger } from './manifest-ledger.js';
import { mergeHeader } from './merge.js';
import { toPublicKey } from './signature.js';
import { checkSignature } from './signature-policy.js';
import { type TarEntry, TarReader } from './tar.js';
import type {
  ArtifactFileInfo,
  ArtifactHeader,
  ArtifactInfo,
  ArtifactLimits,
  ReadArtifactOptions,
} from './types.js';
import { parseVersion } from './version.js';

export type { Diagnosis } from './manifest-ledger.js';

/** Default limits of {@link readArtifact}. */
export const DEFAULT_ARTIFACT_LIMITS: Readonly<Required<ArtifactLimits>> = Object.freeze({
  maxHeaderBytes: 16 * 1024 * 1024,
  maxMetadataBytes: 1024 * 1024,
  maxExpansionRatio: 200,
  maxFiles: 10_000,
});

const HEADER = /^header\.tar(\.gz|\.xz|\.zst)?$/;
const HEADER_AUGMENT = /^header-augment\.tar(\.gz|\.xz|\.zst)?$/;
const DATA = /^data\/([0-9]{4})\.tar(\.gz|\.xz|\.zst)?$/;
const KNOWN_MEMBERS = ['version', 'manifest', 'manifest.sig', 'manifest-augment'];

/**
 * Reads and verifies a Mender Artifact (format version 3, or 2) from a byte stream, in one pass
 * with bounded memory: the outer tar, `version`, `manifest`, the signature in `manifest.sig`, the
 * header (after its checksum is verified) and every payload file (streamed, hashed, compared).
 *
 * Order of trust: the signature (when keys are given) and the header checksum are verified before
 * anything from the header is used, and payload files are handed to `onPayloadFile` only after
 * that. A payload file's stream ends only when its SHA-256 matched; on a mismatch it errors and
 * `readArtifact` rejects. Treat a payload as valid only once `readArtifact` resolves.
 *
 * @param source the artifact bytes: a Readable (file, HTTP body) or any async iterable of chunks
 * @throws {ArtifactError} on any failure, with a `code` per kind and the `member` concerned
 *
 * @example
 * ```ts
 * const info = await readArtifact(createReadStream('update.mender'), {
 *   trustedKeys: [await readFile('artifact-verify.pub', 'utf8')],
 *   onPayloadFile: async (file) => { await pipeline(file.stream, createWriteStream(`/tmp/${file.name}`)) },
 * })
 * console.log(info.artifactName, info.provides)
 * ```
 */
export async function readArtifact(
  source: Readable | AsyncIterable<Uint8Array>,
  options: ReadArtifactOptions = {},
): Promise<ArtifactInfo> {
  return runReader(source, options, undefined);
}

/**
 * The read behind {@link readArtifact} and `validateArtifact`. `lent`: the source reuses its chunk
 * buffers (see `readFileChunks`), so whatever is kept or handed to a consumer is copied. `file`:
 * the file the source reads from its first byte, when it is one (see `readFileChunks`): members
 * are then skipped without reading them, and zstd and xz members decoded from the file directly.
 * @internal
 */
export async function runReader(
  source: AsyncIterable<Uint8Array>,
  options: ReadArtifactOptions,
  diagnosis: Diagnosis | undefined,
  lent = false,
  file?: FileAccess,
): Promise<ArtifactInfo> {
  const keys = diagnosis ? [] : (options.trustedKeys ?? []).map(toPublicKey);
  const limits: HeaderLimits = { ...DEFAULT_ARTIFACT_LIMITS, ...definedOnly(options.limits ?? {}) };
  const signal = options.signal;
  signal?.throwIfAborted();
  const input = new ByteReader(source, signal, file);
  try {
    return await new ArtifactReader(input, options, keys, limits, diagnosis, lent, file).read();
  } finally {
    await input.close();
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** One pass over the outer tar: members in Mender's order, each checked before the next is used. */
class ArtifactReader {
  private readonly outer: TarReader;
  private readonly seen = new Set<string>();
  private readonly ledger: ManifestLedger;
  private readonly files: ArtifactFileInfo[] = [];
  private readonly fileCount = { value: 0 };

  constructor(
    input: ByteReader,
    private readonly options: ReadArtifactOptions,
    private readonly keys: KeyObject[],
    private readonly limits: HeaderLimits,
    private readonly diagnosis: Diagnosis | undefined,
    private readonly lent: boolean,
    private readonly file: FileAccess | undefined,
  ) {
    this.outer = new TarReader(input, 'artifact', limits.maxMetadataBytes);
    this.ledger = new ManifestLedger(diagnosis);
  }

  /** The next outer member; must be a regular file seen for the first time. */
  private async nextMember(): Promise<TarEntry | null> {
    const entry = await this.outer.next();
    if (entry === null) return null;
    checkPath(entry.name, entry.name);
    if (entry.kind !== 'file') {
      throw new ArtifactError(
        'ERR_ARTIFACT_UNSUPPORTED_ENTRY',
        `a ${entry.kind} is not allowed in an artifact`,
        {
          member: entry.name,
        },
      );
    }
    if (this.seen.has(entry.name)) {
      throw new ArtifactError('ERR_ARTIFACT_DUPLICATE_ENTRY', 'member appears twice', { member: entry.name });
    }
    this.seen.add(entry.name);
    return entry;
  }

  private outOfPlace(entry: TarEntry, expected: string): ArtifactError {
    const known =
      KNOWN_MEMBERS.includes(entry.name) ||
      HEADER.test(entry.name) ||
      HEADER_AUGMENT.test(entry.name) ||
      DATA.test(entry.name);
    return known
      ? new ArtifactError('ERR_ARTIFACT_WRONG_ORDER', `member out of order (expected ${expected})`, {
          member: entry.name,
        })
      : new ArtifactError('ERR_ARTIFACT_UNEXPECTED_MEMBER', `unexpected member (expected ${expected})`, {
          member: entry.name,
        });
  }

  private missing(member: string, message: string): ArtifactError {
    return new ArtifactError('ERR_ARTIFACT_MISSING_MEMBER', message, { member });
  }

  async read(): Promise<ArtifactInfo> {
    const { limits, ledger } = this;
    // 1. version, manifest, manifest.sig: raw bytes only, nothing is interpreted before the signature.
    let entry = await this.nextMember();
    if (entry === null) throw this.missing('version', 'empty archive');
    if (entry.name !== 'version') throw this.outOfPlace(entry, 'version first');
    const versionRaw = await this.outer.readBody(limits.maxMetadataBytes, 'version');
    entry = await this.nextMember();
    if (entry === null) throw this.missing('manifest', 'no manifest');
    if (entry.name !== 'manifest') throw this.outOfPlace(entry, 'manifest');
    const manifestRaw = await this.outer.readBody(limits.maxMetadataBytes, 'manifest');
    entry = await this.nextMember();
    let signatureRaw: Uint8Array | undefined;
    if (entry?.name === 'manifest.sig') {
      signatureRaw = await this.outer.readBody(limits.maxMetadataBytes, 'manifest.sig');
    }
    // Judged as soon as it is read, before anything after it (as mender-artifact does).
    const { keys, diagnosis } = this;
    const signatureVerified = checkSignature(
      manifestRaw,
      signatureRaw,
      keys,
      this.options.requireSignature,
      diagnosis,
    );
    if (signatureRaw !== undefined) entry = await this.nextMember();

    // 2. version and manifest content.
    const version = parseVersion(versionRaw);
    ledger.entries = parseManifest(manifestRaw, 'manifest');
    ledger.checkDigest('version', sha256(versionRaw));

    // 3. manifest-augment (v3).
    let augmented = false;
    if (entry?.name === 'manifest-augment') {
      if (version.version !== 3) throw this.outOfPlace(entry, 'header.tar (format version 2 has no augment)');
      const raw = await this.outer.readBody(limits.maxMetadataBytes, 'manifest-augment');
      parseManifest(raw, 'manifest-augment', ledger.entries);
      augmented = true;
      entry = await this.nextMember();
    }

    // 4. header.tar*: checksum first, then decompress and parse.
    if (entry === null) throw this.missing('header.tar', 'no header');
    const headerMatch = HEADER.exec(entry.name);
    if (!headerMatch) throw this.outOfPlace(entry, 'header.tar[.gz|.xz|.zst]');
    const suffix = headerMatch[1] ?? '';
    const compression = compressionFromSuffix(suffix)!;
    const header = await this.readHeader(entry.name, compression, version.version, false);
    const parsedHeader: ArtifactHeader = {
      formatVersion: version.version,
      headerInfo: header.headerInfo,
      scripts: header.scripts,
      payloads: header.payloads,
    };

    // 5. header-augment.tar* (same suffix as the header).
    entry = await this.nextMember();
    if (augmented) {
      const expected = `header-augment.tar${suffix}`;
      if (entry === null) throw this.missing(expected, 'manifest-augment without an augmented header');
      if (entry.name !== expected) throw this.outOfPlace(entry, expected);
      const aug = await this.readHeader(entry.name, compression, 3, true);
      if (header.types.includes(null)) {
        throw new ArtifactError(
          'ERR_ARTIFACT_INVALID_HEADER',
          'an empty-payload artifact cannot be augmented',
          {
            member: entry.name,
          },
        );
      }
      parsedHeader.augmented = { headerInfo: aug.headerInfo, payloads: aug.payloads };
      entry = await this.nextMember();
    }
    const merged = mergeHeader(parsedHeader);

    // 6. data/NNNN.tar*, one per payload, in order.
    const data = {
      outer: this.outer,
      header: parsedHeader,
      ledger,
      limits,
      signal: this.options.signal,
      consumer: diagnosis ? undefined : this.options.onPayloadFile,
      lent: this.lent,
      file: this.file,
      fileCount: this.fileCount,
      files: this.files,
    };
    let nextIndex = 0;
    for (; entry !== null; entry = await this.nextMember()) {
      const dataMatch = DATA.exec(entry.name);
      if (!dataMatch) throw this.outOfPlace(entry, 'data/NNNN.tar[.gz|.xz|.zst]');
      const index = Number.parseInt(dataMatch[1]!, 10);
      if (index >= header.types.length) {
        throw new ArtifactError('ERR_ARTIFACT_UNEXPECTED_MEMBER', `no payload ${index} in header-info`, {
          member: entry.name,
        });
      }
      if (index !== nextIndex) throw this.outOfPlace(entry, `data/${String(nextIndex).padStart(4, '0')}.tar`);
      nextIndex++;
      await readDataMember(data, entry.name, index, compressionFromSuffix(dataMatch[2] ?? '')!);
    }

    // 7. Every manifest line used.
    ledger.assertAllUsed();

    return {
      formatVersion: version.version,
      format: version.format,
      artifactName: merged.artifactName,
      artifactGroup: merged.artifactGroup,
      deviceTypes: merged.deviceTypes,
      provides: merged.provides,
      depends: merged.depends,
      clearsProvides: merged.clearsProvides,
      payloadTypes: merged.payloadTypes,
      compression,
      signed: signatureRaw !== undefined,
      signatureVerified,
      augmented,
      scripts: parsedHeader.scripts.map((s) => s.name),
      files: this.files,
      header: parsedHeader,
    };
  }

  private async readHeader(
    member: string,
    compression: ArtifactCompression,
    version: 2 | 3,
    augmented: boolean,
  ) {
    const { limits } = this;
    const raw = await this.outer.readBody(limits.maxHeaderBytes, 'the header');
    this.ledger.checkDigest(member, sha256(raw));
    const plain = boundedExpansion(
      decompressor(compression)(once(raw), member, this.options.signal),
      raw.length,
      limits,
      member,
    );
    try {
      return await parseHeaderTar(plain, member, version, augmented, limits);
    } finally {
      await plain.return(undefined);
    }
  }
}

async function* once(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
