/** Public key files given on the command line: read them, and refuse private keys locally. */
import { readFile } from 'node:fs/promises';
import { CliError } from './errors.js';

const PRIVATE_KEY_PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/**
 * Refuses text that holds a private key where a public key is expected, before anything is sent
 * or used. The message names the flag and the file, never the key.
 *
 * @throws {@link CliError} `ERR_CLI_PRIVATE_KEY` (exit 1).
 */
export function refusePrivateKey(pem: string, flag: string, path: string): void {
  if (PRIVATE_KEY_PEM.test(pem)) {
    throw new CliError(
      'ERR_CLI_PRIVATE_KEY',
      `${flag} ${path} is a private key; give the public key (\`otakit device keygen\` prints it), never the private one`,
    );
  }
}

/**
 * Reads a public key file given to `flag`.
 *
 * @throws {@link CliError} `ERR_CLI_FILE` when it cannot be read, `ERR_CLI_PRIVATE_KEY` when it holds
 *   a private key.
 */
export async function readPublicKeyFile(path: string, flag: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
  refusePrivateKey(pem, flag, path);
  return pem;
}
