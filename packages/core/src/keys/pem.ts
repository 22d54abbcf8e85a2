import { KeyError } from './errors.js';

/** One PEM block found in a text. @internal */
export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `RSA PRIVATE KEY`. */
  readonly label: string;
  /** The whole block, `-----BEGIN` through the `-----END ...-----` line. */
  readonly text: string;
  /** Whether the block is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY` or legacy `Proc-Type: 4,ENCRYPTED`). */
  readonly encrypted: boolean;
}

/**
 * The largest key input accepted. Keys and certificate chains are a few KiB; the cap keeps hostile
 * input (a `pubkey` field sent by an unknown device) from costing more than a bounded scan.
 * @internal
 */
export const MAX_KEY_INPUT_BYTES = 1024 * 1024;

const BEGIN = '-----BEGIN ';
const DASHES = '-----';
const LABEL = /^[A-Z0-9 ]{1,40}$/;

/** PEM labels of private keys. @internal */
export const PRIVATE_LABELS: ReadonlySet<string> = new Set([
  'PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'DSA PRIVATE KEY',
  'OPENSSH PRIVATE KEY',
]);

/** PEM labels of bare public keys. @internal */
export const PUBLIC_LABELS: ReadonlySet<string> = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY']);

/** PEM labels of X.509 certificates. @internal */
export const CERTIFICATE_LABELS: ReadonlySet<string> = new Set([
  'CERTIFICATE',
  'X509 CERTIFICATE',
  'TRUSTED CERTIFICATE',
]);

/** Whether the input looks like PEM text at all. @internal */
export function looksLikePem(text: string): boolean {
  return text.includes(BEGIN);
}

/**
 * Every complete PEM block in `text`, in order. Runs in time linear in the text (each label's END
 * marker is searched for at most once per block it closes), so hostile input cannot make it hang.
 * @internal
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  // For each label, where its next END marker is (or -1: none after that point).
  const ends = new Map<string, number>();
  let from = 0;
  while (from < text.length) {
    const begin = text.indexOf(BEGIN, from);
    if (begin < 0) break;
    const labelStart = begin + BEGIN.length;
    const labelEnd = text.indexOf(DASHES, labelStart);
    if (labelEnd < 0) break;
    const label = text.slice(labelStart, labelEnd);
    from = labelStart;
    if (!LABEL.test(label)) continue;
    const marker = `-----END ${label}-----`;
    const bodyStart = labelEnd + DASHES.length;
    let end = ends.get(marker);
    if (end === undefined || (end >= 0 && end < bodyStart)) {
      end = text.indexOf(marker, bodyStart);
      ends.set(marker, end);
    }
    if (end < 0) continue;
    const body = text.slice(bodyStart, end);
    blocks.push({
      label,
      text: text.slice(begin, end + marker.length),
      encrypted:
        label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:[ \t]*4,[ \t]*ENCRYPTED[ \t]*\r?$/m.test(body),
    });
    from = end + marker.length;
  }
  return blocks;
}

/**
 * Decodes key input to text for PEM scanning; bytes are read as Latin-1 so any byte string maps.
 * @throws {@link KeyError} `ERR_KEY_PARSE` for input that is neither a string nor bytes, or is larger
 *   than {@link MAX_KEY_INPUT_BYTES}.
 * @internal
 */
export function inputText(input: string | Uint8Array): string {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.byteLength > MAX_KEY_INPUT_BYTES) throw tooLarge();
    text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  } else {
    throw new KeyError('ERR_KEY_PARSE', 'key input must be a string, a Uint8Array or a KeyObject');
  }
  if (text.length > MAX_KEY_INPUT_BYTES) throw tooLarge();
  return text;
}

function tooLarge(): KeyError {
  return new KeyError('ERR_KEY_PARSE', `key input is larger than ${MAX_KEY_INPUT_BYTES} bytes`);
}
