/**
 * xz compression through the system `xz` program (XZ Utils), run as a child process: plain bytes
 * go to its stdin, the .xz stream comes from its stdout. Chosen by measurement over the
 * WebAssembly liblzma encoder on npm (node-liblzma, LGPL-3.0 and Node >= 22 only): see the core
 * README ("xz writing") for the figures.
 *
 * The stream is bounded (pipes and Node stream buffers, never the whole payload) and owns its
 * child: destroying it (an error upstream, an abort) kills the process and waits for its exit.
 */

import type { ChildProcessByStdio } from 'node:child_process';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { ArtifactWriteError, XzUnavailableError } from './writer-errors.js';

/** The environment variable that names the xz program to run (default: `xz` on `PATH`). */
export const XZ_COMMAND_ENV = 'OTAKIT_XZ';

/** The xz program to run, for writing and reading: `$OTAKIT_XZ`, else `xz` on `PATH`. @internal */
export function xzCommand(): string {
  return process.env[XZ_COMMAND_ENV] || 'xz';
}

/** Options of {@link createXzProcessCompressor}. */
export interface XzProcessOptions {
  /** The program to run; default `$OTAKIT_XZ`, else `xz` looked up on `PATH`. */
  command?: string;
  /** The xz preset, 0-9 (default 6, xz's own default: an 8 MiB dictionary). */
  preset?: number;
  /**
   * Compression threads (`xz --threads`); 0 means one per core. Default 1: a single-block stream
   * byte-identical to `xz -6`, and about 94 MiB of encoder memory in the child, where each extra
   * thread adds as much again.
   */
  threads?: number;
}

type XzChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** At most this much of xz's stderr is kept for an error message. */
const STDERR_KEEP = 2048;

/**
 * Starts `xz` and returns a stream that compresses what is written to it. Rejects with
 * {@link XzUnavailableError} when the program cannot be started (not installed, not executable).
 *
 * @example
 * ```ts
 * await pipeline(createReadStream('rootfs.ext4'), await createXzProcessCompressor(), createWriteStream('rootfs.ext4.xz'));
 * ```
 */
export async function createXzProcessCompressor(options: XzProcessOptions = {}): Promise<Duplex> {
  const command = options.command ?? xzCommand();
  const preset = options.preset ?? 6;
  const threads = options.threads ?? 1;
  if (!Number.isInteger(preset) || preset < 0 || preset > 9)
    throw new ArtifactWriteError('ERR_ARTIFACT_WRITE_OPTIONS', `invalid xz preset: ${preset}`);
  if (!Number.isInteger(threads) || threads < 0)
    throw new ArtifactWriteError('ERR_ARTIFACT_WRITE_OPTIONS', `invalid xz thread count: ${threads}`);
  // Loaded here: readers of artifacts (the device agent, `otakit artifact read`) never need it.
  const { spawn } = await import('node:child_process');
  const child: XzChild = spawn(
    command,
    ['--compress', '--stdout', '--format=xz', '--check=crc64', `-${preset}`, `--threads=${threads}`],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new XzUnavailableError(command, err));
    };
    child.once('error', onError);
    child.once('spawn', () => {
      child.off('error', onError);
      resolve();
    });
  });
  return new XzProcessCompressor(child, command);
}

/** The Duplex around one running `xz`: writes go to its stdin, reads come from its stdout. */
class XzProcessCompressor extends Duplex {
  private stderr = '';
  /** Resolves when the child has exited and its pipes are closed: `undefined` or why it failed. */
  private readonly exited: Promise<ArtifactWriteError | undefined>;

  constructor(
    private readonly child: XzChild,
    private readonly command: string,
  ) {
    super();
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-STDERR_KEEP);
    });
    // A write into a pipe whose reader died (EPIPE) is reported by the exit status below.
    child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        if (code === 0) {
          resolve(undefined);
          return;
        }
        const why = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
        const detail = this.stderr.trim();
        resolve(
          new ArtifactWriteError(
            'ERR_ARTIFACT_WRITE_COMPRESS',
            `${this.command} ${why}${detail ? `: ${detail}` : ''}`,
          ),
        );
      });
    });
    // Ends the readable side once xz has written everything, or fails the stream if it failed.
    this.exited.then((failure) => {
      if (failure) this.destroy(failure);
      else this.push(null);
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.child.stdin.write(chunk, (err) => {
      if (!err) {
        done();
        return;
      }
      // xz stopped reading: report why it exited rather than EPIPE.
      this.exited.then((failure) => done(failure ?? err));
    });
  }

  override _final(done: (err?: Error | null) => void): void {
    this.child.stdin.end();
    this.exited.then((failure) => done(failure ?? null));
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child.stdin.destroy();
    // Wait for the exit so no xz outlives the stream.
    this.exited.then(() => done(err));
  }
}
