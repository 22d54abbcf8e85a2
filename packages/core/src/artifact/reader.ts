import { createHash, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ByteReader } from './byte-reader.js';
import { type ArtifactCompression, compressionFromSuffix, decompressor } from './decompress.js';
import { ArtifactError } from './errors.js';
import { boundedExpansion, type HeaderLimits, parseHeaderTar } from './header.js';
import { checkPath, type ManifestEntry, PAYLOAD_FILE_NAME, parseManifest } from './manifest.js';
import { mergeHeader } from './merge.js';
import { hashPayload, streamPayloadToConsumer } from './payload-stream.js';
import { isSupportedKey, type SignatureVerdict, toPublicKey, verifyManifestSignature } from './signature.js';
import { type TarEntry, TarReader } from './tar.js';
import type {
  ArtifactFileInfo,
  ArtifactHeader,
  ArtifactInfo,
  ArtifactLimits,
  ReadArtifactOptions,
} from './types.js';
import { parseVersion } from './version.js';

/** Default limits of {@link readArtifact}. */
export const DEFAULT_ARTIFACT_LIMITS: Readonly<Required<ArtifactLimits>> = Object.freeze({
  maxHeaderBytes: 16 * 1024 * 1024,
  maxMetadataBytes: 1024 * 1024,
  maxExpansionRatio: 200,
  maxFiles: 10_000,
});

/** What a diagnosing read records instead of throwing (see `validateArtifact`). @internal */
export interface Diagnosis {
  /** Keys to evaluate the signature with, one verdict each. */
  keys: KeyObject[];
  /** Set once the signature could be evaluated. */
  verdicts?: (SignatureVerdict | 'missing-signature')[];
  /** The first checksum mismatch seen (reading goes on after it). */
  checksumMismatch?: ArtifactError;
}

const HEADER = /^header\.tar(\.gz|\.xz|\.zst)?$/;
const HEADER_AUGMENT = /^header-augment\.tar(\.gz|\.xz|\.zst)?$/;
const DATA = /^data\/([0-9]{4})\.tar(\.gz|\.xz|\.zst)?$/;
/**
 * Most bytes accepted after the end-of-archive marker of a data tar: Go's archive/tar (mender-artifact)
 * writes none, GNU tar pads to its record size (10 KiB by default, 64 KiB at blocking factor 128).
 */
const MAX_DATA_TRAILER = 64 * 1024;
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

/** @internal */
export async function runReader(
  source: AsyncIterable<Uint8Array>,
  options: ReadArtifactOptions,
  diagnosis: Diagnosis | undefined,
): Promise<ArtifactInfo> {
  const keys = diagnosis ? [] : (options.trustedKeys ?? []).map(toPublicKey);
  const limits: HeaderLimits = { ...DEFAULT_ARTIFACT_LIMITS, ...definedOnly(options.limits ?? {}) };
  const signal = options.signal;
  signal?.throwIfAborted();
  const input = new ByteReader(source, signal);
  try {
    return await new ArtifactReader(input, options, keys, limits, diagnosis).read();
  } finally {
    await input.close();
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

class ArtifactReader {
  private readonly outer: TarReader;
  private readonly seen = new Set<string>();
  private manifest = new Map<string, ManifestEntry>();
  private readonly consumed = new Set<string>();
  private readonly files: ArtifactFileInfo[] = [];
  private fileCount = 0;

  constructor(
    input: ByteReader,
    private readonly options: ReadArtifactOptions,
    private readonly keys: KeyObject[],
    private readonly limits: HeaderLimits,
    private readonly diagnosis: Diagnosis | undefined,
  ) {
    this.outer = new TarReader(input, 'artifact', limits.maxMetadataBytes);
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

  private mismatch(member: string, expected: string, actual: string): void {
    const err = new ArtifactError(
      'ERR_ARTIFACT_CHECKSUM_MISMATCH',
      `sha256 ${actual} does not match the manifest (${expected})`,
      { member },
    );
    if (!this.diagnosis) throw err;
    this.diagnosis.checksumMismatch ??= err;
  }

  /** Compares a digest with the manifest line for `name`; marks the line as used. */
  private checkDigest(name: string, digest: string): ManifestEntry {
    const listed = this.manifest.get(name);
    if (listed === undefined) {
      throw new ArtifactError('ERR_ARTIFACT_NOT_IN_MANIFEST', 'no checksum in the manifest', {
        member: name,
      });
    }
    this.consumed.add(name);
    if (listed.sha256 !== digest) this.mismatch(name, listed.sha256, digest);
    return listed;
  }

  async read(): Promise<ArtifactInfo> {
    const { limits } = this;
    // 1. version, manifest, manifest.sig: raw bytes only, nothing is interpreted before the signature.
    let entry = await this.nextMember();
    if (entry === null)
      throw new ArtifactError('ERR_ARTIFACT_MISSING_MEMBER', 'empty archive', { member: 'version' });
    if (entry.name !== 'version') throw this.outOfPlace(entry, 'version first');
    const versionRaw = await this.outer.readBody(limits.maxMetadataBytes, 'version');
    entry = await this.nextMember();
    if (entry === null)
      throw new ArtifactError('ERR_ARTIFACT_MISSING_MEMBER', 'no manifest', { member: 'manifest' });
    if (entry.name !== 'manifest') throw this.outOfPlace(entry, 'manifest');
    const manifestRaw = await this.outer.readBody(limits.maxMetadataBytes, 'manifest');
    entry = await this.nextMember();
    let signatureRaw: Uint8Array | undefined;
    let signatureVerified: boolean;
    if (entry?.name === 'manifest.sig') {
      // Judged as soon as it is read, before anything after it (as mender-artifact does).
      signatureRaw = await this.outer.readBody(limits.maxMetadataBytes, 'manifest.sig');
      signatureVerified = this.checkSignature(manifestRaw, signatureRaw);
      entry = await this.nextMember();
    } else {
      signatureVerified = this.checkSignature(manifestRaw, undefined);
    }

    // 2. version and manifest content.
    const version = parseVersion(versionRaw);
    this.manifest = parseManifest(manifestRaw, 'manifest');
    this.checkDigest('version', sha256(versionRaw));

    // 3. manifest-augment (v3).
    let augmented = false;
    if (entry?.name === 'manifest-augment') {
      if (version.version !== 3) throw this.outOfPlace(entry, 'header.tar (format version 2 has no augment)');
      parseManifest(
        await this.outer.readBody(limits.maxMetadataBytes, 'manifest-augment'),
        'manifest-augment',
        this.manifest,
      );
      augmented = true;
      entry = await this.nextMember();
    }

    // 4. header.tar*: checksum first, then decompress and parse.
    if (entry === null)
      throw new ArtifactError('ERR_ARTIFACT_MISSING_MEMBER', 'no header', { member: 'header.tar' });
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
      if (entry === null || entry.name !== `header-augment.tar${suffix}`) {
        if (entry === null) {
          throw new ArtifactError(
            'ERR_ARTIFACT_MISSING_MEMBER',
            'manifest-augment without an augmented header',
            {
              member: `header-augment.tar${suffix}`,
            },
          );
        }
        throw this.outOfPlace(entry, `header-augment.tar${suffix}`);
      }
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
      await this.readData(entry.name, index, compressionFromSuffix(dataMatch[2] ?? '')!, parsedHeader);
    }

    // 7. Every manifest line used.
    for (const name of this.manifest.keys()) {
      if (!this.consumed.has(name)) {
        throw new ArtifactError(
          'ERR_ARTIFACT_MISSING_FILE',
          'listed in the manifest but not in the artifact',
          {
            member: name,
          },
        );
      }
    }

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

  /** Applies the signature policy (or records per-key verdicts when diagnosing). */
  private checkSignature(manifestRaw: Uint8Array, signatureRaw: Uint8Array | undefined): boolean {
    if (this.diagnosis) {
      this.diagnosis.verdicts = this.diagnosis.keys.map((key) =>
        signatureRaw === undefined
          ? 'missing-signature'
          : verifyManifestSignature(manifestRaw, signatureRaw, key),
      );
      return this.diagnosis.verdicts.includes('ok');
    }
    const required = this.options.requireSignature ?? this.keys.length > 0;
    if (this.keys.length > 0 && !this.keys.some(isSupportedKey)) {
      throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_KEY', 'no trusted key is of a type Mender supports', {
        member: 'manifest.sig',
      });
    }
    if (signatureRaw === undefined) {
      if (required) {
        throw new ArtifactError('ERR_ARTIFACT_MISSING_SIGNATURE', 'the artifact is not signed', {
          member: 'manifest.sig',
        });
      }
      return false;
    }
    if (this.keys.length === 0) {
      if (required) {
        throw new ArtifactError(
          'ERR_ARTIFACT_NO_VERIFIER',
          'a signature is required but no trusted key was given',
          {
            member: 'manifest.sig',
          },
        );
      }
      return false;
    }
    const verdicts = this.keys.map((key) => verifyManifestSignature(manifestRaw, signatureRaw, key));
    if (verdicts.includes('ok')) return true;
    if (verdicts.every((v) => v === 'unsupported-key')) {
      throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_KEY', 'no trusted key is of a type Mender supports', {
        member: 'manifest.sig',
      });
    }
    throw new ArtifactError(
      'ERR_ARTIFACT_BAD_SIGNATURE',
      'the signature does not verify with any trusted key',
      {
        member: 'manifest.sig',
      },
    );
  }

  private async readHeader(
    member: string,
    compression: ArtifactCompression,
    version: 2 | 3,
    augmented: boolean,
  ) {
    const { limits } = this;
    const raw = await this.outer.readBody(limits.maxHeaderBytes, 'the header');
    this.checkDigest(member, sha256(raw));
    const plain = boundedExpansion(decompressor(compression)(once(raw), member), raw.length, limits, member);
    try {
      return await parseHeaderTar(plain, member, version, augmented, limits);
    } finally {
      await plain.return(undefined);
    }
  }

  private async readData(
    member: string,
    index: number,
    compression: ArtifactCompression,
    header: ArtifactHeader,
  ) {
    const plain = decompressor(compression)(this.outer.body(), member);
    const input = new ByteReader(plain, this.options.signal);
    const tar = new TarReader(input, member, this.limits.maxMetadataBytes);
    const names = new Set<string>();
    const v2Files = header.payloads[index]?.files;
    const dir = `data/${String(index).padStart(4, '0')}`;
    try {
      for (let entry = await tar.next(); entry !== null; entry = await tar.next()) {
        if (++this.fileCount > this.limits.maxFiles) {
          throw new ArtifactError(
            'ERR_ARTIFACT_TOO_LARGE',
            `more than ${this.limits.maxFiles} payload files`,
            {
              member,
            },
          );
        }
        const name = entry.name;
        checkPath(name, `${dir}/${name}`);
        if (header.payloads[index]?.type === null) {
          // As mender-artifact ("can not find data file"): an empty payload has no files.
          throw new ArtifactError(
            'ERR_ARTIFACT_UNEXPECTED_MEMBER',
            'can not find data file: an empty-payload (bootstrap) artifact carries no payload files',
            { member: `${dir}/${name}` },
          );
        }
        if (entry.kind !== 'file') {
          throw new ArtifactError(
            'ERR_ARTIFACT_UNSUPPORTED_ENTRY',
            `a ${entry.kind} is not allowed as a payload file`,
            {
              member: `${dir}/${name}`,
            },
          );
        }
        if (names.has(name)) {
          throw new ArtifactError('ERR_ARTIFACT_DUPLICATE_ENTRY', 'payload file appears twice', {
            member: `${dir}/${name}`,
          });
        }
        names.add(name);
        const key = `${dir}/${name}`;
        const listed = name.includes('/') ? undefined : this.manifest.get(key);
        if (listed === undefined || (v2Files !== undefined && !v2Files.includes(name))) {
          throw new ArtifactError('ERR_ARTIFACT_NOT_IN_MANIFEST', 'payload file not listed in the manifest', {
            member: key,
          });
        }
        if (!PAYLOAD_FILE_NAME.test(name)) {
          throw new ArtifactError(
            'ERR_ARTIFACT_INVALID_NAME',
            'forbidden characters in a payload file name',
            {
              member: key,
            },
          );
        }
        this.consumed.add(key);
        const consumer = this.diagnosis ? undefined : this.options.onPayloadFile;
        const target = { payloadIndex: index, name, size: entry.size, member: key, sha256: listed.sha256 };
        const digest = consumer
          ? await streamPayloadToConsumer(tar.body(), target, consumer, header, this.options.signal)
          : await hashPayload(tar.body());
        if (digest !== listed.sha256) this.mismatch(key, listed.sha256, digest);
        this.files.push({
          payloadIndex: index,
          name,
          size: entry.size,
          sha256: digest,
          augmented: listed.augmented,
        });
      }
      // Nothing but tar padding may follow the end of the archive: the decompressed data may not
      // exceed what the tar headers declare (plus a tar record's worth of padding).
      if (!(await input.drainAtMost(MAX_DATA_TRAILER))) {
        throw new ArtifactError(
          'ERR_ARTIFACT_COMPRESSION_BOMB',
          `more than ${MAX_DATA_TRAILER} bytes after the end of the tar archive`,
          { member },
        );
      }
    } finally {
      await input.close();
    }
  }
}

async function* once(chunk: Uint8Array): AsyncGenerator<Uint8Array> {
  yield chunk;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
