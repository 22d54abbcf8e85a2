/** Public key files given on the command line: read them, and refuse private keys locally. */
import { readFile } from 'node:fs';
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
    // node:fs's callback, not node:fs/promises: `otakit artifact read|validate -k` never load
    // that module (about 0.5 MiB of their peak RSS; see tsup.config.ts, lazyBuiltins).
    pem = await new Promise<string>((resolve, reject) => {
      readFile(path, 'utf8', (err, text) => (err ? reject(err) : resolve(text)));
    });
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
  refusePrivateKey(pem, flag, path);
  return pem;
}
