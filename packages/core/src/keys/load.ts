import { createPrivateKey, createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { KeyError, nodeErrorCode } from './errors.js';
import {
  CERTIFICATE_LABELS,
  inputText,
  looksLikePem,
  type PemBlock,
  PRIVATE_LABELS,
  PUBLIC_LABELS,
  pemBlocks,
} from './pem.js';
import { keyType } from './type.js';

/** Key material accepted by the loaders: PEM text, PEM or DER bytes. */
export type KeyInput = string | Uint8Array;

function supported(key: KeyObject): KeyObject {
  keyType(key);
  return key;
}

function parsePrivateBlock(block: PemBlock, passphrase: string | undefined): KeyObject {
  if (block.label === 'OPENSSH PRIVATE KEY') {
    throw new KeyError(
      'ERR_KEY_UNSUPPORTED',
      'OpenSSH private key format is not supported; convert it to PKCS#8 with `ssh-keygen -p -m PKCS8`',
    );
  }
  if (block.encrypted && passphrase === undefined) {
    throw new KeyError('ERR_KEY_ENCRYPTED', 'the private key is encrypted and no passphrase was given');
  }
  try {
    return createPrivateKey(
      passphrase === undefined
        ? { key: block.text, format: 'pem' }
        : { key: block.text, format: 'pem', passphrase },
    );
  } catch (err) {
    if (block.encrypted) {
      throw new KeyError(
        'ERR_KEY_PASSPHRASE',
        'cannot decrypt the private key: wrong passphrase or corrupt key',
        {
          cause: err,
        },
      );
    }
    if (nodeErrorCode(err) === 'ERR_MISSING_PASSPHRASE') {
      throw new KeyError('ERR_KEY_ENCRYPTED', 'the private key is encrypted and no passphrase was given', {
        cause: err,
      });
    }
    throw new KeyError('ERR_KEY_PARSE', `cannot parse the ${block.label} PEM block`, { cause: err });
  }
}

function parsePrivateDer(der: Buffer): KeyObject {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch {
      // try the next encoding
    }
  }
  if (parsePublicDer(der) !== undefined) {
    throw new KeyError('ERR_KEY_NOT_PRIVATE', 'expected a private key, got a public key or certificate');
  }
  throw new KeyError(
    'ERR_KEY_PARSE',
    'the input is neither a PEM private key nor a DER PKCS#8, PKCS#1 or SEC1 key',
  );
}

function parsePublicDer(der: Buffer): KeyObject | undefined {
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      return createPublicKey({ key: der, format: 'der', type });
    } catch {
      // try the next encoding
    }
  }
  try {
    return new X509Certificate(der).publicKey;
  } catch {
    return undefined;
  }
}

function parsePrivateDerOrUndefined(der: Buffer): KeyObject | undefined {
  try {
    return createPublicKey(parsePrivateDer(der));
  } catch {
    return undefined;
  }
}

function asBuffer(input: Uint8Array): Buffer {
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/**
 * Loads a private key for signing.
 *
 * Accepts PEM `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1), `PRIVATE KEY` (PKCS#8: RSA, EC or
 * Ed25519) and `ENCRYPTED PRIVATE KEY` or legacy `Proc-Type: 4,ENCRYPTED` blocks with a passphrase.
 * Other PEM blocks in the text (such as `EC PARAMETERS`) are skipped. Bytes without a PEM header are
 * read as DER (PKCS#8, PKCS#1 or SEC1).
 *
 * @param pem - the key as PEM text, or PEM/DER bytes.
 * @param passphrase - decrypts an encrypted key; ignored for plain keys.
 * @throws {@link KeyError} `ERR_KEY_PARSE` (not a key), `ERR_KEY_NOT_PRIVATE` (a public key or
 *   certificate), `ERR_KEY_ENCRYPTED` (encrypted, no passphrase), `ERR_KEY_PASSPHRASE` (wrong
 *   passphrase), `ERR_KEY_UNSUPPORTED` (a key type Mender cannot use).
 *
 * @example
 * ```ts
 * const key = loadPrivateKey(await readFile('/var/lib/mender/mender-agent.pem', 'utf8'))
 * ```
 */
export function loadPrivateKey(pem: KeyInput, passphrase?: string): KeyObject {
  const text = inputText(pem);
  if (!looksLikePem(text)) {
    if (typeof pem === 'string' || pem.byteLength === 0) {
      throw new KeyError('ERR_KEY_PARSE', 'the input contains no PEM block');
    }
    return supported(parsePrivateDer(asBuffer(pem)));
  }
  const blocks = pemBlocks(text);
  const block = blocks.find((b) => PRIVATE_LABELS.has(b.label));
  if (block === undefined) {
    if (blocks.some((b) => PUBLIC_LABELS.has(b.label) || CERTIFICATE_LABELS.has(b.label))) {
      throw new KeyError('ERR_KEY_NOT_PRIVATE', 'expected a private key, got a public key or certificate');
    }
    throw new KeyError('ERR_KEY_PARSE', 'the input contains no complete private key PEM block');
  }
  return supported(parsePrivateBlock(block, passphrase));
}

/**
 * Loads a public key for verifying, or takes the public half of a private key.
 *
 * Accepts PEM `PUBLIC KEY` (SPKI), `RSA PUBLIC KEY` (PKCS#1), `CERTIFICATE` (X.509: the first
 * certificate's subject key), any private key {@link loadPrivateKey} accepts (the public half is
 * derived), DER bytes of any of these, or a `KeyObject` (public, or private to derive from).
 *
 * @throws {@link KeyError} `ERR_KEY_PARSE` (not a key or certificate), `ERR_KEY_ENCRYPTED` (an encrypted
 *   private key), `ERR_KEY_UNSUPPORTED` (a secret key or a type Mender cannot use).
 *
 * @example
 * ```ts
 * const pub = loadPublicKey(device.auth_sets[0].pubkey)
 * ```
 */
export function loadPublicKey(pem: KeyInput | KeyObject): KeyObject {
  if (pem instanceof KeyObject) {
    if (pem.type === 'public') return supported(pem);
    if (pem.type === 'private') return supported(createPublicKey(pem));
    throw new KeyError('ERR_KEY_UNSUPPORTED', 'expected an asymmetric key, got a secret key');
  }
  const text = inputText(pem);
  if (!looksLikePem(text)) {
    if (typeof pem === 'string' || pem.byteLength === 0) {
      throw new KeyError('ERR_KEY_PARSE', 'the input contains no PEM block');
    }
    const der = asBuffer(pem);
    const key = parsePublicDer(der) ?? parsePrivateDerOrUndefined(der);
    if (key === undefined) {
      throw new KeyError('ERR_KEY_PARSE', 'the input is neither PEM nor a DER key or certificate');
    }
    return supported(key);
  }
  const block = pemBlocks(text).find(
    (b) => PUBLIC_LABELS.has(b.label) || CERTIFICATE_LABELS.has(b.label) || PRIVATE_LABELS.has(b.label),
  );
  if (block === undefined) {
    throw new KeyError('ERR_KEY_PARSE', 'the input contains no complete key or certificate PEM block');
  }
  if (PRIVATE_LABELS.has(block.label)) {
    return supported(createPublicKey(parsePrivateBlock(block, undefined)));
  }
  try {
    if (CERTIFICATE_LABELS.has(block.label)) {
      return supported(new X509Certificate(block.text).publicKey);
    }
    return supported(
      createPublicKey({
        key: block.text,
        format: 'pem',
        type: block.label === 'PUBLIC KEY' ? 'spki' : 'pkcs1',
      }),
    );
  } catch (err) {
    if (err instanceof KeyError) throw err;
    throw new KeyError('ERR_KEY_PARSE', `cannot parse the ${block.label} PEM block`, { cause: err });
  }
}
