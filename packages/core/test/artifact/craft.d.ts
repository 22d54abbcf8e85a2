/**
 * Builds small artifacts byte by byte for reader tests, including malformed ones (any member order,
 * any tar entry type, any manifest). Independent of the writer on purpose.
 */
import { type KeyObject } from 'node:crypto';
/** One tar entry to write. */
export interface CraftEntry {
  name: string;
  data?: Uint8Array | string;
  /** Tar type flag, default '0'. */
  type?: string;
  mode?: number;
  linkname?: string;
  /** Size written in the header (defaults to the data length). */
  size?: number;
}
/** A 512-byte ustar header. */
export declare function tarHeader(entry: CraftEntry, size: number): Uint8Array;
/** A complete tar archive (entries, then two zero blocks). */
export declare function tar(entries: CraftEntry[]): Uint8Array;
export declare function sha256(data: Uint8Array | string): string;
/** What {@link craftArtifact} builds; every part can be overridden. */
export interface CraftOptions {
  version?: string;
  headerInfo?: unknown;
  typeInfo?: unknown;
  metaData?: string;
  scripts?: CraftEntry[];
  /** Payload files, default one `config.txt`. */
  files?: CraftEntry[];
  /** Entries added to the data tar but not to the manifest. */
  unlisted?: CraftEntry[];
  /** Extra entries of the header tar (after the normal ones). */
  headerExtra?: CraftEntry[];
  /** Replace the header tar entries entirely. */
  headerEntries?: CraftEntry[];
  gzip?: boolean;
  /** Manifest text override (else computed). */
  manifest?: string;
  /** Sign the manifest with this private key (RSA PKCS#1 v1.5 or ECDSA raw r||s). */
  signWith?: KeyObject;
  /** Edit the outer members before they are archived. */
  edit?: (members: CraftEntry[]) => CraftEntry[];
}
/** The default module-image header-info. */
export declare const HEADER_INFO: {
  payloads: {
    type: string;
  }[];
  artifact_provides: {
    artifact_name: string;
  };
  artifact_depends: {
    device_type: string[];
  };
};
/** Builds a module-image artifact (v3, gzip or none). */
export declare function craftArtifact(options?: CraftOptions): Uint8Array;
/** Yields `data` in chunks of `size` bytes. */
export declare function chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array>;
