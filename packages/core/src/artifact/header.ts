import { ByteReader } from './byte-reader.js';
import { ArtifactError } from './errors.js';
import { checkPath } from './manifest.js';
import { TarReader } from './tar.js';
import type { ArtifactPayloadHeader, ArtifactScript, JsonObject } from './types.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Deepest nesting accepted in an artifact JSON document (Mender's documents nest 3 levels). */
const MAX_JSON_DEPTH = 32;

/** The nesting depth of a JSON text, counting brackets outside strings (one linear pass). */
function jsonDepth(raw: Uint8Array): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) max = depth;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return max;
}

/** Parses a JSON document of the artifact (UTF-8, any JSON value, at most 32 levels deep). @internal */
export function parseJson(raw: Uint8Array, member: string): unknown {
  if (jsonDepth(raw) > MAX_JSON_DEPTH) {
    throw new ArtifactError('ERR_ARTIFACT_INVALID_JSON', `nested deeper than ${MAX_JSON_DEPTH} levels`, {
      member,
    });
  }
  try {
    return JSON.parse(decoder.decode(raw));
  } catch (cause) {
    throw new ArtifactError('ERR_ARTIFACT_INVALID_JSON', 'not valid JSON', { member, cause });
  }
}

function invalid(member: string, message: string): ArtifactError {
  return new ArtifactError('ERR_ARTIFACT_INVALID_HEADER', message, { member });
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(value: JsonObject, allowed: string[], member: string, where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(member, `unknown field ${JSON.stringify(key)} in ${where}`);
  }
}

/** A name, group or device type: non-empty, at most 256 bytes, printable (mender-artifact's rules). */
function checkLabel(value: unknown, member: string, where: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(member, `${where} must be a non-empty string`);
  if (Buffer.byteLength(value) > 256) throw invalid(member, `${where} is longer than 256 bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value))
    throw invalid(member, `${where} has non-printable characters`);
  return value;
}

function checkLabelList(
  value: unknown,
  member: string,
  where: string,
  required: boolean,
): string[] | undefined {
  if (value === undefined && !required) return undefined;
  if (!Array.isArray(value) || (required && value.length === 0)) {
    throw invalid(member, `${where} must be a ${required ? 'non-empty ' : ''}list of strings`);
  }
  return value.map((v, i) => checkLabel(v, member, `${where}[${i}]`));
}

/** The payload types of a v3 header-info, validated (mender-artifact's strict decoding). @internal */
export function validateHeaderInfo(info: unknown, version: 2 | 3, member: string): (string | null)[] {
  if (!isObject(info)) throw invalid(member, 'header-info must be a JSON object');
  if (version === 2) {
    // mender-artifact decodes the v2 header-info leniently (unknown keys are ignored).
    checkLabel(info.artifact_name, member, 'artifact_name');
    checkLabelList(info.device_types_compatible, member, 'device_types_compatible', true);
    return payloadTypes(info.updates, member, 'updates');
  }
  onlyKeys(info, ['payloads', 'artifact_provides', 'artifact_depends'], member, 'header-info');
  const provides = info.artifact_provides;
  if (!isObject(provides)) throw invalid(member, 'artifact_provides is required');
  onlyKeys(provides, ['artifact_name', 'artifact_group'], member, 'artifact_provides');
  checkLabel(provides.artifact_name, member, 'artifact_provides.artifact_name');
  // An empty group is no group (mender-artifact omits it when empty).
  if (provides.artifact_group !== undefined && provides.artifact_group !== '') {
    checkLabel(provides.artifact_group, member, 'artifact_provides.artifact_group');
  }
  const depends = info.artifact_depends;
  if (!isObject(depends)) throw invalid(member, 'artifact_depends.device_type is required');
  // mender-artifact decodes artifact_depends with its own lenient decoder: unknown keys are ignored.
  checkLabelList(depends.device_type, member, 'artifact_depends.device_type', true);
  checkLabelList(depends.artifact_name, member, 'artifact_depends.artifact_name', false);
  checkLabelList(depends.artifact_group, member, 'artifact_depends.artifact_group', false);
  return payloadTypes(info.payloads, member, 'payloads');
}

function payloadTypes(list: unknown, member: string, where: string): (string | null)[] {
  if (!Array.isArray(list) || list.length === 0) throw invalid(member, `${where} must be a non-empty list`);
  return list.map((p, i) => {
    if (!isObject(p)) throw invalid(member, `${where}[${i}] must be an object`);
    onlyKeys(p, ['type'], member, `${where}[${i}]`);
    if (p.type === null) return null;
    if (typeof p.type !== 'string' || p.type === '')
      throw invalid(member, `${where}[${i}].type must be a non-empty string or null`);
    return p.type;
  });
}

function validateTypeInfo(info: unknown, type: string | null, member: string): JsonObject {
  if (!isObject(info)) throw invalid(member, 'type-info must be a JSON object');
  onlyKeys(
    info,
    ['type', 'artifact_provides', 'artifact_depends', 'clears_artifact_provides'],
    member,
    'type-info',
  );
  // mender-artifact 3.9 to 4.3 wrote `"type": ""` in a rootfs-image's type-info; their readers and
  // the Mender client accept it (the type comes from header-info).
  const legacyRootfs = info.type === '' && type === 'rootfs-image';
  if (info.type !== type && !legacyRootfs) {
    throw invalid(member, 'type in type-info does not match header-info');
  }
  if (info.artifact_provides !== undefined && info.artifact_provides !== null) {
    if (!isObject(info.artifact_provides)) throw invalid(member, 'artifact_provides must be an object');
    for (const [k, v] of Object.entries(info.artifact_provides)) {
      if (typeof v !== 'string') throw invalid(member, `artifact_provides.${k} must be a string`);
    }
  }
  if (info.artifact_depends !== undefined && info.artifact_depends !== null) {
    if (!isObject(info.artifact_depends)) throw invalid(member, 'artifact_depends must be an object');
    for (const [k, v] of Object.entries(info.artifact_depends)) {
      if (typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        throw invalid(member, `artifact_depends.${k} must be a string or a list of strings`);
      }
    }
  }
  const clears = info.clears_artifact_provides;
  if (clears !== undefined && clears !== null) {
    if (!Array.isArray(clears) || !clears.every((x) => typeof x === 'string')) {
      throw invalid(member, 'clears_artifact_provides must be a list of strings');
    }
  }
  return info;
}

/** Decompressed-size bounds applied while a header member is read. @internal */
export interface HeaderLimits {
  maxHeaderBytes: number;
  maxMetadataBytes: number;
  maxExpansionRatio: number;
  maxFiles: number;
}

/** Minimum decompressed size before the expansion ratio is enforced. */
const RATIO_FLOOR = 1024 * 1024;

/** Counts decompressed bytes and stops a compression bomb early. @internal */
export async function* boundedExpansion(
  input: AsyncIterable<Uint8Array>,
  compressedSize: number,
  limits: HeaderLimits,
  member: string,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of input) {
    total += chunk.length;
    if (total > limits.maxHeaderBytes) {
      throw new ArtifactError(
        'ERR_ARTIFACT_COMPRESSION_BOMB',
        `decompresses to more than the limit of ${limits.maxHeaderBytes} bytes`,
        { member },
      );
    }
    if (total > RATIO_FLOOR && total > compressedSize * limits.maxExpansionRatio) {
      throw new ArtifactError(
        'ERR_ARTIFACT_COMPRESSION_BOMB',
        `expands more than ${limits.maxExpansionRatio} times`,
        { member },
      );
    }
    yield chunk;
  }
}

/**
 * Reads a (decompressed) header tar: `header-info`, then `scripts/*` (not in an augmented header),
 * then `headers/NNNN/{files (v2 only), type-info, meta-data}` in that order, and validates every
 * document.
 * @internal
 */
export async function parseHeaderTar(
  plain: AsyncIterable<Uint8Array>,
  member: string,
  version: 2 | 3,
  augmented: boolean,
  limits: HeaderLimits,
): Promise<{
  headerInfo: JsonObject;
  types: (string | null)[];
  scripts: ArtifactScript[];
  payloads: ArtifactPayloadHeader[];
}> {
  const input = new ByteReader(plain);
  const tar = new TarReader(input, member, limits.maxMetadataBytes);
  const seen = new Set<string>();
  let headerInfo: JsonObject | undefined;
  let types: (string | null)[] = [];
  const scripts: ArtifactScript[] = [];
  const payloads: ArtifactPayloadHeader[] = [];
  // Order state: 0 = before header-info, 1 = scripts allowed, 2 = payload headers.
  let stage = 0;
  let count = 0;
  const seenKinds = new Map<number, string[]>();
  for (let entry = await tar.next(); entry !== null; entry = await tar.next()) {
    const where = `${member}/${entry.name}`;
    checkPath(entry.name, member);
    if (++count > limits.maxFiles) {
      throw new ArtifactError('ERR_ARTIFACT_TOO_LARGE', `more than ${limits.maxFiles} entries`, { member });
    }
    if (entry.kind === 'directory') continue;
    if (entry.kind !== 'file') {
      throw new ArtifactError(
        'ERR_ARTIFACT_UNSUPPORTED_ENTRY',
        `${entry.name} is a ${entry.kind}, not a regular file`,
        {
          member,
        },
      );
    }
    const name = entry.name;
    if (seen.has(name)) {
      throw new ArtifactError('ERR_ARTIFACT_DUPLICATE_ENTRY', `${name} appears twice`, { member });
    }
    seen.add(name);
    if (stage === 0) {
      if (name !== 'header-info') {
        throw new ArtifactError(
          'ERR_ARTIFACT_WRONG_ORDER',
          `the first entry must be header-info, not ${name}`,
          {
            member,
          },
        );
      }
      const raw = await tar.readBody(limits.maxMetadataBytes, 'header-info');
      const parsed = parseJson(raw, where);
      types = validateHeaderInfo(parsed, version, where);
      headerInfo = parsed as JsonObject;
      stage = 1;
      continue;
    }
    const parts = name.split('/');
    if (stage === 1 && parts.length === 2 && parts[0] === 'scripts' && !augmented) {
      const script = parts[1]!;
      if (script === '' || script === '.')
        throw invalid(member, `invalid script name ${JSON.stringify(name)}`);
      const content = await tar.readBody(limits.maxHeaderBytes, 'a state script');
      scripts.push({ name: script, mode: entry.mode, content });
      continue;
    }
    if (parts.length !== 3 || parts[0] !== 'headers' || !/^[0-9]{4}$/.test(parts[1]!)) {
      throw invalid(member, `unexpected header entry ${JSON.stringify(name)}`);
    }
    stage = 2;
    const index = Number.parseInt(parts[1]!, 10);
    if (index >= types.length) throw invalid(member, `${name} has no payload in header-info`);
    const kind = parts[2]!;
    let payload = payloads[payloads.length - 1];
    if (payload === undefined || payload.index !== index) {
      if (index !== payloads.length)
        throw new ArtifactError('ERR_ARTIFACT_WRONG_ORDER', `${name} out of order`, { member });
      payload = { index, type: types[index]!, typeInfo: {}, metaData: null };
      payloads.push(payload);
      seenKinds.set(index, []);
    }
    const done = seenKinds.get(index)!;
    const order = version === 2 ? ['files', 'type-info', 'meta-data'] : ['type-info', 'meta-data'];
    const position = order.indexOf(kind);
    if (position === -1) throw invalid(member, `unsupported header file ${JSON.stringify(name)}`);
    const expectedBefore = order.slice(0, position).filter((k) => k !== 'meta-data');
    if (!expectedBefore.every((k) => done.includes(k))) {
      throw new ArtifactError('ERR_ARTIFACT_WRONG_ORDER', `${name} before ${expectedBefore.join(', ')}`, {
        member,
      });
    }
    done.push(kind);
    const raw = await tar.readBody(limits.maxMetadataBytes, kind);
    if (kind === 'files') {
      const files = parseJson(raw, where);
      if (
        !isObject(files) ||
        !Array.isArray(files.files) ||
        !files.files.every((f) => typeof f === 'string')
      ) {
        throw invalid(where, 'files must be {"files": [names]}');
      }
      onlyKeys(files, ['files'], where, 'files');
      payload.files = files.files as string[];
    } else if (kind === 'type-info') {
      payload.typeInfo = validateTypeInfo(parseJson(raw, where), payload.type, where);
    } else {
      if (raw.length > 0) {
        const meta = parseJson(raw, where);
        if (!isObject(meta)) throw invalid(where, 'top level of meta-data must be a JSON object');
        if (payload.type === null) throw invalid(where, 'an empty payload cannot have meta-data');
        payload.metaData = meta;
      }
    }
  }
  await input.drain();
  if (headerInfo === undefined) {
    throw new ArtifactError('ERR_ARTIFACT_MISSING_MEMBER', 'no header-info', { member });
  }
  for (let i = 0; i < types.length; i++) {
    const done = seenKinds.get(i) ?? [];
    if (!done.includes('type-info'))
      throw invalid(member, `headers/${String(i).padStart(4, '0')}/type-info is missing`);
    if (version === 2 && !done.includes('files')) {
      throw invalid(member, `headers/${String(i).padStart(4, '0')}/files is missing`);
    }
  }
  return { headerInfo, types, scripts, payloads };
}
