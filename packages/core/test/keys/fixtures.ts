import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared test keys, resolved from the repository root (CI clones shared/ beside the repo). */
export const KEYS_DIR = fileURLToPath(new URL('../../../../../shared/vectors/keys/', import.meta.url));

/** The private/public vector pairs and the type each must load as. */
export const VECTORS = [
  { name: 'rsa2048', type: 'rsa', label: 'RSA PRIVATE KEY', bits: 2048 },
  { name: 'rsa3072', type: 'rsa', label: 'PRIVATE KEY', bits: 3072 },
  { name: 'ecdsa-p256', type: 'ecdsa-p256', label: 'EC PRIVATE KEY' },
  { name: 'ecdsa-p384', type: 'ecdsa-p384', label: 'EC PRIVATE KEY' },
  { name: 'ed25519', type: 'ed25519', label: 'PRIVATE KEY' },
] as const;

/** Reads a file of the shared key set as text. */
export function vector(file: string): string {
  return readFileSync(join(KEYS_DIR, file), 'utf8');
}

/** Runs the openssl CLI; throws when it exits non-zero. */
export function openssl(args: string[], input?: string | Buffer): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs the openssl CLI and reports whether it exited 0. */
export function opensslSucceeds(args: string[]): boolean {
  try {
    openssl(args);
    return true;
  } catch {
    return false;
  }
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'otakit-keys-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
