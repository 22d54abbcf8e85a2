import type { Readable } from 'node:stream';
import type { ArtifactCompression } from './decompress.js';
import type { TrustedKey } from './signature.js';

/** A JSON object as found in artifact headers. */
export type JsonObject = { [key: string]: unknown };

/** A state script carried in the header (`scripts/<name>`). */
export interface ArtifactScript {
  /** The script name, e.g. `ArtifactInstall_Enter_00_prepare`. */
  name: string;
  /** The tar mode bits. */
  mode: number;
  /** The script content. */
  content: Uint8Array;
}

/** The header parts of one payload (`headers/NNNN/...`). */
export interface ArtifactPayloadHeader {
  /** The payload index (0 for `headers/0000`). */
  index: number;
  /** The payload type from header-info (`rootfs-image`, an Update Module name, or `null` for an empty payload). */
  type: string | null;
  /** `headers/NNNN/type-info` as parsed JSON. */
  typeInfo: JsonObject;
  /** `headers/NNNN/meta-data`: `null` when absent or empty. */
  metaData: JsonObject | null;
  /** Format version 2 only: the file names of `headers/NNNN/files`. */
  files?: string[] | undefined;
}

/** The unsigned augmented header (`header-augment.tar*`), if any. */
export interface ArtifactAugmentedHeader {
  /** Its header-info JSON. */
  headerInfo: JsonObject;
  /** Its per-payload type-info and meta-data. */
  payloads: ArtifactPayloadHeader[];
}

/** The parsed header of an artifact: the raw JSON documents, state scripts and augmented parts. */
export interface ArtifactHeader {
  /** Format version of the artifact (2 or 3). */
  formatVersion: 2 | 3;
  /** `header-info` as parsed JSON. */
  headerInfo: JsonObject;
  /** State scripts, in archive order. */
  scripts: ArtifactScript[];
  /** One entry per payload of header-info. */
  payloads: ArtifactPayloadHeader[];
  /** The augmented header; its contents are NOT covered by the signature. */
  augmented?: ArtifactAugmentedHeader | undefined;
}

/** A payload file as listed in {@link ArtifactInfo.files}. */
export interface ArtifactFileInfo {
  /** The payload index (0 for `data/0000.tar*`). */
  payloadIndex: number;
  /** The file's base name. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /** Its SHA-256 (lowercase hex), verified against the manifest. */
  sha256: string;
  /** True when the file is listed in `manifest-augment` only (not covered by the signature). */
  augmented: boolean;
}

/** Provides, depends and clears of a header, merged as the Mender client does. */
export interface MergedHeader {
  /** `artifact_provides.artifact_name` (v2: `artifact_name`). */
  artifactName: string;
  /** `artifact_provides.artifact_group`, `null` when absent or empty. */
  artifactGroup: string | null;
  /** `artifact_depends.device_type` (v2: `device_types_compatible`). */
  deviceTypes: string[];
  /** header-info provides + type-info provides + augmented type-info provides. */
  provides: Record<string, string | string[]>;
  /** header-info depends (`artifact_name`, `device_type`, `artifact_group`) + type-info + augmented. */
  depends: Record<string, string | string[]>;
  /** `clears_artifact_provides` of type-info and augmented type-info, without repeats. */
  clearsProvides: string[];
  /** Payload types of header-info (`null` for an empty payload). */
  payloadTypes: (string | null)[];
}

/** What {@link readArtifact} learnt from a valid artifact. */
export interface ArtifactInfo extends MergedHeader {
  /** `version` member: the format version (2 or 3). */
  formatVersion: 2 | 3;
  /** `version` member: the format (`mender`). */
  format: string;
  /** The compression of the header member (by suffix). */
  compression: ArtifactCompression;
  /** True when the artifact has a `manifest.sig`. */
  signed: boolean;
  /** True when `manifest.sig` verified with one of the trusted keys. */
  signatureVerified: boolean;
  /** True when the artifact has augmented (unsigned) parts. */
  augmented: boolean;
  /** State script names. */
  scripts: string[];
  /** Every payload file, in archive order, with its verified SHA-256. */
  files: ArtifactFileInfo[];
  /** The parsed header. */
  header: ArtifactHeader;
}

/** A payload file handed to {@link ReadArtifactOptions.onPayloadFile}. */
export interface ArtifactPayloadFile {
  /** The payload index (0 for `data/0000.tar*`). */
  payloadIndex: number;
  /** The file's base name (checked: a plain name, listed in the manifest). */
  name: string;
  /** Its size in bytes. */
  size: number;
  /**
   * Its content. Errors (with an `ERR_ARTIFACT_CHECKSUM_MISMATCH` {@link ArtifactError}) when
   * the SHA-256 differs from the manifest, or when reading the artifact fails.
   */
  stream: Readable;
  /**
   * The SHA-256 (lowercase hex) the manifest lists for the file. The stream ends only once the
   * bytes matched it, so a consumer that read the stream to its end got exactly the bytes of this
   * digest and need not hash them again.
   */
  sha256: string;
}

/** Limits that bound the memory a reader may use on hostile input. */
export interface ArtifactLimits {
  /** Largest (compressed and decompressed) header member. Default 16 MiB. */
  maxHeaderBytes?: number;
  /** Largest `version`, `manifest`, `manifest.sig`, header JSON document or tar extended header. Default 1 MiB. */
  maxMetadataBytes?: number;
  /** Largest decompressed/compressed size ratio of a header member (above 1 MiB). Default 200. */
  maxExpansionRatio?: number;
  /** Most payload files (and header entries) accepted. Default 10 000. */
  maxFiles?: number;
}

/** Options of {@link readArtifact}. */
export interface ReadArtifactOptions {
  /** Public keys (PEM or KeyObject). When given, an unsigned or badly signed artifact is refused. */
  trustedKeys?: TrustedKey[];
  /** Require a valid signature. Default: true when `trustedKeys` is non-empty. */
  requireSignature?: boolean;
  /**
   * Called for each payload file once the header has been verified. The consumer MUST consume
   * (or destroy) `file.stream`; a stream it never touches is drained once the callback returns.
   * A payload is valid only when `readArtifact` resolves. Without it, payloads are hashed and discarded.
   */
  onPayloadFile?: (file: ArtifactPayloadFile, header: ArtifactHeader) => void | Promise<void>;
  /** Aborts reading; `readArtifact` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Bounds on memory use. */
  limits?: ArtifactLimits;
}
