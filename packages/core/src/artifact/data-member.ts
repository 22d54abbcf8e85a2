import { ByteReader } from './byte-reader.js';
import { type ArtifactCompression, payloadDecompressor } from './decompress.js';
import { ArtifactError, type ArtifactErrorCode } from './errors.js';
import type { FileAccess } from './file-source.js';
import type { HeaderLimits } from './header.js';
import { checkPath, PAYLOAD_FILE_NAME } from './manifest.js';
import type { ManifestLedger } from './manifest-ledger.js';
import { hashPayload, streamPayloadToConsumer } from './payload-stream.js';
import { decodeMemberFromFile } from './range-decoder.js';
import { TarReader } from './tar.js';
import type { ArtifactFileInfo, ArtifactHeader, ReadArtifactOptions } from './types.js';

/**
 * Most bytes accepted after the end-of-archive marker of a data tar: Go's archive/tar (mender-artifact)
 * writes none, GNU tar pads to its record size (10 KiB by default, 64 KiB at blocking factor 128).
 */
const MAX_DATA_TRAILER = 64 * 1024;

/** What reading a `data/NNNN.tar*` member needs from the artifact read around it. @internal */
export interface DataMemberContext {
  /** The outer tar, positioned at the member's body. */
  outer: TarReader;
  header: ArtifactHeader;
  ledger: ManifestLedger;
  limits: HeaderLimits;
  signal: AbortSignal | undefined;
  /** Receives each payload file (not when diagnosing). */
  consumer: ReadArtifactOptions['onPayloadFile'];
  /** Whether the source lends its chunks (they must be copied before a consumer gets them). */
  lent: boolean;
  /**
   * The artifact file, when the source is one (read from its first byte): zstd and xz members
   * are then decoded from it directly (see `range-decoder.ts`).
   */
  file: FileAccess | undefined;
  /** Payload files seen so far in the whole artifact (bounded by `limits.maxFiles`). */
  fileCount: { value: number };
  /** Where each payload file read is recorded. */
  files: ArtifactFileInfo[];
}

/**
 * Reads one `data/NNNN.tar*` member: decompresses it as it streams, checks every payload file's
 * name against the header and the manifest, hashes its content (handing it to the consumer, if
 * any, at the same time) and compares the digest with the manifest.
 * @internal
 */
export async function readDataMember(
  ctx: DataMemberContext,
  member: string,
  index: number,
  compression: ArtifactCompression,
): Promise<void> {
  const { header, ledger, limits } = ctx;
  const body = ctx.outer.body();
  // From a file, decodeMemberFromFile decodes zstd and xz from the file itself, anything else as
  // payloadDecompressor does.
  const plain =
    compression === 'none'
      ? body
      : ctx.file
        ? decodeMemberFromFile(compression, ctx.file, ctx.outer.bodyRange(), body, member, ctx.signal)
        : payloadDecompressor(compression)(body, member, ctx.signal);
  // Decompressed chunks are lent too (see payloadDecompressor).
  const lent = ctx.lent || compression !== 'none';
  const input = new ByteReader(plain, ctx.signal);
  const tar = new TarReader(input, member, limits.maxMetadataBytes);
  const names = new Set<string>();
  const payload = header.payloads[index];
  const v2Files = payload?.files;
  const dir = `data/${String(index).padStart(4, '0')}`;
  const refuse = (code: ArtifactErrorCode, message: string, name: string) =>
    new ArtifactError(code, message, { member: `${dir}/${name}` });
  try {
    for (let entry = await tar.next(); entry !== null; entry = await tar.next()) {
      if (++ctx.fileCount.value > limits.maxFiles) {
        throw new ArtifactError('ERR_ARTIFACT_TOO_LARGE', `more than ${limits.maxFiles} payload files`, {
          member,
        });
      }
      const name = entry.name;
      checkPath(name, `${dir}/${name}`);
      if (payload?.type === null) {
        // As mender-artifact ("can not find data file"): an empty payload has no files.
        throw refuse(
          'ERR_ARTIFACT_UNEXPECTED_MEMBER',
          'can not find data file: an empty-payload (bootstrap) artifact carries no payload files',
          name,
        );
      }
      if (entry.kind !== 'file') {
        throw refuse(
          'ERR_ARTIFACT_UNSUPPORTED_ENTRY',
          `a ${entry.kind} is not allowed as a payload file`,
          name,
        );
      }
      if (names.has(name)) throw refuse('ERR_ARTIFACT_DUPLICATE_ENTRY', 'payload file appears twice', name);
      names.add(name);
      const key = `${dir}/${name}`;
      const listed = name.includes('/') ? undefined : ledger.use(key);
      if (listed === undefined || (v2Files !== undefined && !v2Files.includes(name))) {
        throw refuse('ERR_ARTIFACT_NOT_IN_MANIFEST', 'payload file not listed in the manifest', name);
      }
      if (!PAYLOAD_FILE_NAME.test(name)) {
        throw refuse('ERR_ARTIFACT_INVALID_NAME', 'forbidden characters in a payload file name', name);
      }
      const target = { payloadIndex: index, name, size: entry.size, member: key, sha256: listed.sha256 };
      const digest = ctx.consumer
        ? await streamPayloadToConsumer(tar.body(), target, ctx.consumer, header, ctx.signal, lent)
        : await hashPayload(tar.body());
      if (digest !== listed.sha256) ledger.mismatch(key, listed.sha256, digest);
      ctx.files.push({
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
