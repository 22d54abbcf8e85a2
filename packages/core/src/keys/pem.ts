/** One PEM block found in a text. @internal */
export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `RSA PRIVATE KEY`. */
  readonly label: string;
  /** The whole block, `-----BEGIN` through the `-----END ...-----` line. */
  readonly text: string;
  /** Whether the block is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY` or legacy `Proc-Type: 4,ENCRYPTED`). */
  readonly encrypted: boolean;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

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
  return text.includes('-----BEGIN ');
}

/** Every complete PEM block in `text`, in order. @internal */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const label = match[1] ?? '';
    const body = match[2] ?? '';
    blocks.push({
      label,
      text: match[0],
      encrypted: label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,\s*ENCRYPTED\s*$/m.test(body),
    });
  }
  return blocks;
}

/** Decodes key input to text for PEM scanning; bytes are read as Latin-1 so any byte string maps. @internal */
export function inputText(input: string | Uint8Array): string {
  return typeof input === 'string'
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
}
