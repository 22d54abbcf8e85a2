/**
 * Builds small artifacts byte by byte for reader tests, including malformed ones (any member order,
 * any tar entry type, any manifest). Independent of the writer on purpose.
 */

import { createHash, type KeyObject, sign } from 'node:crypto';
import { gzipSync } from 'node:zlib';

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

const enc = new TextEncoder();

function bytes(data: Uint8Array | string | undefined): Uint8Array {
  return typeof data === 'string' ? enc.encode(data) : (data ?? new Uint8Array(0));
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A 512-byte ustar header. */
export function tarHeader(entry: CraftEntry, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (offset: number, text: string) => h.set(enc.encode(text), offset);
  let name = entry.name;
  let prefix = '';
  if (enc.encode(name).length > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  put(0, name);
  put(100, octal(entry.mode ?? 0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(entry.size ?? size, 12));
  put(136, octal(0, 12));
  put(148, '        ');
  put(156, entry.type ?? '0');
  put(157, entry.linkname ?? '');
  put(257, 'ustar\0');
  put(263, '00');
  put(345, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** A complete tar archive (entries, then two zero blocks). */
export function tar(entries: CraftEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const data = bytes(entry.data);
    parts.push(tarHeader(entry, data.length), data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(bytes(data)).digest('hex');
}

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
export const HEADER_INFO = {
  payloads: [{ type: 'test-module' }],
  artifact_provides: { artifact_name: 'crafted-1' },
  artifact_depends: { device_type: ['board-x'] },
};

/** Builds a module-image artifact (v3, gzip or none). */
export function craftArtifact(options: CraftOptions = {}): Uint8Array {
  const gz = options.gzip ?? true;
  const sfx = gz ? '.gz' : '';
  const compress = (data: Uint8Array) => (gz ? gzipSync(data) : data);
  const version = options.version ?? '{"format":"mender","version":3}';
  const files = options.files ?? [{ name: 'config.txt', data: 'key=value\n' }];
  const headerEntries = options.headerEntries ?? [
    { name: 'header-info', data: JSON.stringify(options.headerInfo ?? HEADER_INFO) },
    ...(options.scripts ?? []),
    {
      name: 'headers/0000/type-info',
      data: JSON.stringify(
        options.typeInfo ?? {
          type: 'test-module',
          artifact_provides: { 'rootfs-image.test-module.version': 'crafted-1' },
        },
      ),
    },
    ...(options.metaData !== undefined ? [{ name: 'headers/0000/meta-data', data: options.metaData }] : []),
    ...(options.headerExtra ?? []),
  ];
  const header = compress(tar(headerEntries));
  const data = compress(tar([...files, ...(options.unlisted ?? [])]));
  const manifest =
    options.manifest ??
    [
      ...files
        .filter((f) => (f.type ?? '0') === '0')
        .map((f) => `${sha256(bytes(f.data))}  data/0000/${f.name}\n`),
      `${sha256(header)}  header.tar${sfx}\n`,
      `${sha256(version)}  version\n`,
    ].join('');
  const members: CraftEntry[] = [
    { name: 'version', data: version },
    { name: 'manifest', data: manifest },
  ];
  if (options.signWith) {
    const key = options.signWith;
    const sig =
      key.asymmetricKeyType === 'ec'
        ? sign('sha256', enc.encode(manifest), { key, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', enc.encode(manifest), key);
    members.push({ name: 'manifest.sig', data: sig.toString('base64') });
  }
  members.push({ name: `header.tar${sfx}`, data: header }, { name: `data/0000.tar${sfx}`, data });
  return tar(options.edit ? options.edit(members) : members);
}

/** Yields `data` in chunks of `size` bytes. */
export async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, Math.min(i + size, data.length));
}
