/** Shared helpers of the CLI tests. */
import { vi } from 'vitest';
import { main } from '../src/main.js';

/** What {@link run} returns: the exit code and everything written to stdout and stderr. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI in-process through `main(argv)`, capturing what it writes to stdout and stderr
 * (nothing reaches the terminal). `process.exitCode` is left as the command set it.
 */
export async function run(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
