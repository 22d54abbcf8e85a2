/** Shared helpers of the CLI tests. */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** A `device run --json` agent started as the built bin in a child process. */
export interface AgentProcess {
  /** Everything the agent printed on stdout so far (JSON lines). */
  output(): string;
  /** Resolves when stdout contains `text`; rejects if the agent exits first. */
  until(text: string): Promise<void>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `otakit device run --json ...args` from the built bin, with `env` added to the environment. */
export function startJsonAgent(args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'otakit.cjs');
  const child = spawn(process.execPath, [bin, 'device', 'run', ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => {
    text += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    output: () => text,
    until: (wanted) =>
      new Promise<void>((done, fail) => {
        const check = () => {
          if (text.includes(wanted)) done();
        };
        child.stdout.on('data', check);
        void exited.then((code) => fail(new Error(`agent exited (${code}): ${text}`)));
        check();
      }),
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
