import { ArtifactError } from './errors.js';

/** One line of a `manifest` (or `manifest-augment`): a file and its SHA-256. */
export interface ManifestEntry {
  /** `version`, `header.tar[.gz|.xz|.zst]`, `header-augment.tar...` or `data/NNNN/<file>`. */
  name: string;
  /** 64 hex digits, as written in the manifest. */
  sha256: string;
  /** True when the line comes from `manifest-augment` (not covered by the signature). */
  augmented: boolean;
}

const LINE = /^([0-9a-fA-F]{64}) {2}(\S+)$/;
/** The base name of a payload file, as mender-artifact allows it. */
export const PAYLOAD_FILE_NAME = /^[\w\-.,]+$/;
const HEADER_NAME = /^header(-augment)?\.tar(\.gz|\.xz|\.zst)?$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a manifest in `sha256sum` format (`<64 hex>  <name>\n` per line) strictly: every line
 * must be newline-terminated, names must be `version`, a header member or `data/NNNN/<file>` with
 * a plain file name; duplicate names are rejected (also across `manifest` and `manifest-augment`
 * when `into` already holds entries). Blank lines are skipped, surrounding spaces trimmed, like
 * mender-artifact does.
 *
 * @param raw the member bytes
 * @param member `manifest` or `manifest-augment`
 * @param into entries read so far (the manifest, when parsing `manifest-augment`)
 */
export function parseManifest(
  raw: Uint8Array,
  member: 'manifest' | 'manifest-augment',
  into: Map<string, ManifestEntry> = new Map(),
): Map<string, ManifestEntry> {
  let text: string;
  try {
    text = decoder.decode(raw);
  } catch (cause) {
    throw new ArtifactError('ERR_ARTIFACT_INVALID_MANIFEST', 'not valid UTF-8', { member, cause });
  }
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== undefined && last.trim() !== '') {
    throw new ArtifactError('ERR_ARTIFACT_INVALID_MANIFEST', 'the last line is not terminated by a newline', {
      member,
    });
  }
  for (const rawLine of lines) {
    const line = rawLine.trim();
    if (line === '') continue;
    const match = LINE.exec(line);
    if (!match) {
      throw new ArtifactError(
        'ERR_ARTIFACT_INVALID_MANIFEST',
        `malformed line ${JSON.stringify(line.slice(0, 120))}`,
        {
          member,
        },
      );
    }
    const name = match[2]!;
    checkManifestName(name, member);
    if (into.has(name)) {
      throw new ArtifactError('ERR_ARTIFACT_DUPLICATE_ENTRY', `${name} is listed twice`, { member });
    }
    into.set(name, { name, sha256: match[1]!, augmented: member === 'manifest-augment' });
  }
  return into;
}

function checkManifestName(name: string, member: string): void {
  if (name === 'version' || HEADER_NAME.test(name)) return;
  checkPath(name, member);
  const parts = name.split('/');
  if (parts.length === 3 && parts[0] === 'data' && /^[0-9]{4}$/.test(parts[1]!)) {
    const file = parts[2]!;
    if (PAYLOAD_FILE_NAME.test(file) && file !== '.' && file !== '..') return;
    throw new ArtifactError(
      'ERR_ARTIFACT_INVALID_NAME',
      `forbidden characters in payload file name ${JSON.stringify(file)}`,
      {
        member,
      },
    );
  }
  throw new ArtifactError(
    'ERR_ARTIFACT_INVALID_MANIFEST',
    `${JSON.stringify(name)} cannot be part of an artifact`,
    {
      member,
    },
  );
}

/**
 * Rejects absolute names and names with a `..` component (path traversal).
 * @internal
 */
export function checkPath(name: string, member: string): void {
  if (name.startsWith('/')) {
    throw new ArtifactError('ERR_ARTIFACT_ABSOLUTE_PATH', `absolute name ${JSON.stringify(name)}`, {
      member,
    });
  }
  if (name.split(/[/\\]/).includes('..')) {
    throw new ArtifactError(
      'ERR_ARTIFACT_PATH_TRAVERSAL',
      `name ${JSON.stringify(name)} escapes its directory`,
      {
        member,
      },
    );
  }
}
