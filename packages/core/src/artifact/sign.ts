/**
 * Signing of Mender Artifacts: `manifest.sig` is the standard base64 of a signature over the raw
 * bytes of the `manifest` member, SHA-256 in every case: RSASSA-PKCS1-v1_5 for RSA keys, ECDSA
 * P-256 written as raw `r || s` (64 bytes), as mender-artifact writes it.
 */

import { constants, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ArtifactError, type ArtifactErrorCode } from './errors.js';
import { TAR_BLOCK, tarEntry, tarPadding, tarTrailer } from './tar-write.js';
import { ChunkReader, parseTarHeader, type TarCopyMember } from './tar-write-copy.js';
import { ArtifactWriteError } from './writer-errors.js';
import { type ArtifactOutput, writeOutput } from './writer-output.js';

/** A private key: a `KeyObject`, or PEM text / DER bytes that `crypto.createPrivateKey` reads. */
export type ArtifactSigningKey = KeyObject | string | Buffer;

/** The most bytes of `manifest` that {@link signArtifact} accepts (far above any real manifest). */
const MAX_MANIFEST_BYTES = 1024 * 1024;

function toPrivateKey(key: ArtifactSigningKey): KeyObject {
  if (typeof key === 'object' && !Buffer.isBuffer(key)) {
    if (key.type !== 'private') {
      throw new ArtifactWriteError(
        'ERR_ARTIFACT_SIGN_KEY',
        `a ${key.type} key cannot sign; give a private key`,
      );
    }
    return key;
  }
  try {
    return createPrivateKey(key);
  } catch (cause) {
    throw new ArtifactWriteError('ERR_ARTIFACT_SIGN_KEY', 'the signing key is not a readable private key', {
      cause,
    });
  }
}

/**
 * Signs the raw bytes of a `manifest` member and returns the content of `manifest.sig`: base64 of
 * an RSASSA-PKCS1-v1_5/SHA-256 signature for RSA keys, of raw `r || s` for ECDSA P-256 keys.
 * Other key types (RSA-PSS, P-384, P-521, Ed25519) throw `ERR_ARTIFACT_SIGN_KEY`, as
 * mender-artifact refuses them.
 *
 * @example
 * ```ts
 * const sig = signManifest(manifestBytes, readFileSync('private.key'));
 * ```
 */
export function signManifest(manifest: Uint8Array, key: ArtifactSigningKey): string {
  const privateKey = toPrivateKey(key);
  const type = privateKey.asymmetricKeyType;
  if (type === 'rsa') {
    return sign('sha256', manifest, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }).toString(
      'base64',
    );
  }
  if (type === 'ec') {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1') {
      throw new ArtifactWriteError(
        'ERR_ARTIFACT_SIGN_KEY',
        `ECDSA curve ${curve ?? 'unknown'} is not supported; Mender signs with P-256 only`,
      );
    }
    return sign('sha256', manifest, { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
  }
  throw new ArtifactWriteError(
    'ERR_ARTIFACT_SIGN_KEY',
    `${type ?? 'unknown'} keys are not supported; Mender signs with RSA or ECDSA P-256`,
  );
}

/** Options of {@link signArtifact}. */
export interface SignArtifactOptions {
  /** Replace an existing signature instead of failing with `ERR_ARTIFACT_ALREADY_SIGNED` (`-f`). */
  force?: boolean;
  /** Aborts the copy. */
  signal?: AbortSignal;
}

/** What {@link signArtifact} did. */
export interface SignedArtifact {
  /** The new content of `manifest.sig` (base64). */
  signature: string;
  /** Whether an existing signature was replaced. */
  replaced: boolean;
  /** Bytes written to the output. */
  bytes: number;
}

function inputError(
  code: ArtifactErrorCode,
  message: string,
  member?: string,
  cause?: unknown,
): ArtifactError {
  return new ArtifactError(code, message, { member, cause });
}

/**
 * Signs an existing artifact without touching its payloads: every outer member is copied byte for
 * byte, `manifest.sig` is inserted right after `manifest` (replacing an old one when `force` is
 * set). The input is read once as a stream; only the manifest is held in memory.
 *
 * @example
 * ```ts
 * await signArtifact('unsigned.mender', 'signed.mender', readFileSync('private.key'));
 * ```
 */
export async function signArtifact(
  input: string | AsyncIterable<Uint8Array>,
  output: ArtifactOutput,
  privateKey: ArtifactSigningKey,
  options: SignArtifactOptions = {},
): Promise<SignedArtifact> {
  const key = toPrivateKey(privateKey);
  const source = typeof input === 'string' ? createReadStream(input) : input;
  const reader = new ChunkReader(source);

  // Read the leading members up to and including `manifest` (and a following `manifest.sig`)
  // before anything is written, so that bad input leaves no output behind.
  const head: Buffer[] = [];
  let manifest: Buffer | undefined;
  let signature = '';
  let replaced = false;
  let pending: TarCopyMember | null = null;
  for (let index = 0; ; index++) {
    const member = await readMember(reader);
    if (member === null)
      throw inputError('ERR_ARTIFACT_MISSING_MEMBER', 'the artifact ends before its manifest', 'manifest');
    if (index === 0 && member.name !== 'version') {
      throw inputError('ERR_ARTIFACT_WRONG_ORDER', 'the first member must be version', member.name);
    }
    if (member.name === 'manifest') {
      if (member.size > MAX_MANIFEST_BYTES)
        throw inputError('ERR_ARTIFACT_TOO_LARGE', 'the manifest is too large', 'manifest');
      manifest = await readExact(reader, member.size);
      await readExact(reader, tarPadding(member.size).length);
      signature = signManifest(manifest, key);
      const next = await readMember(reader);
      if (next?.name === 'manifest.sig') {
        if (!options.force) {
          throw new ArtifactWriteError(
            'ERR_ARTIFACT_ALREADY_SIGNED',
            'the artifact is already signed; use force to replace the signature',
          );
        }
        await readExact(reader, next.size + tarPadding(next.size).length);
        replaced = true;
        pending = await readMember(reader);
      } else {
        pending = next;
      }
      head.push(member.header, manifest, tarPadding(manifest.length));
      head.push(tarEntry({ name: 'manifest.sig', mode: 0o644 }, Buffer.from(signature, 'ascii')));
      break;
    }
    if (index > 0)
      throw inputError('ERR_ARTIFACT_WRONG_ORDER', 'expected manifest after version', member.name);
    head.push(member.header, await readExact(reader, member.size + tarPadding(member.size).length));
  }

  async function* body(): AsyncGenerator<Buffer> {
    yield* head;
    let member = pending;
    for (;;) {
      if (member === null) break;
      yield member.header;
      try {
        yield* reader.stream(member.size + tarPadding(member.size).length);
      } catch (cause) {
        throw inputError('ERR_ARTIFACT_TRUNCATED', 'the artifact is truncated', member.name, cause);
      }
      member = await readMember(reader);
    }
    yield tarTrailer();
  }

  const bytes = await writeOutput(body(), output, options.signal);
  return { signature, replaced, bytes };
}

async function readExact(reader: ChunkReader, n: number): Promise<Buffer> {
  const buf = await reader.read(n);
  if (buf.length !== n) throw inputError('ERR_ARTIFACT_TRUNCATED', 'the artifact is truncated');
  return buf;
}

async function readMember(reader: ChunkReader): Promise<TarCopyMember | null> {
  const block = await readExact(reader, TAR_BLOCK);
  try {
    return parseTarHeader(block);
  } catch (cause) {
    throw inputError('ERR_ARTIFACT_INVALID_TAR', 'the input is not a tar archive', undefined, cause);
  }
}
