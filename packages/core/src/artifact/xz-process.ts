/**
 * xz decoding through the system `xz` program (XZ Utils), run as a child process: the compressed
 * bytes go to its stdin, the decoded bytes come from its stdout. Preferred over the WebAssembly
 * decoder (`xz-decompress`) by measurement (see the core README, "xz reading"): native liblzma
 * decodes several times faster, and the decoder's memory is the child's, not the reader's. When no
 * `xz` can be started, {@link decompressor} falls back to the WebAssembly decoder.
 *
 * Bounds: the child's decoder memory is capped with `--memlimit-decompress` (a stream that needs
 * more is refused), one thread; the input is written one chunk at a time (the next chunk is pulled
 * only once the pipe took the previous one, so lent chunks are never held), and the output is read
 * with backpressure. The child never outlives the generator: when it finishes, fails or is closed
 * early, the child is killed and waited for.
 *
 * The output does not come through a pipe: Node reads a pipe into a fresh 64 KiB buffer per read,
 * and that garbage raised the reader's peak RSS by about 20 MiB on a 64 MiB payload. xz writes into
 * a Unix socket instead, whose other end is read with `onread` into one reused buffer; the socket
 * lives in a private temporary directory (mode 0700) only until the two ends are connected.
 */

import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { ArtifactError } from './errors.js';

/**
 * Most memory the child's decoder may use: 128 MiB (a stream made with `xz -9` needs 65 MiB; Mender
 * writes with an 8 MiB dictionary). A stream that needs more fails with `ERR_ARTIFACT_TOO_LARGE`.
 */
export const MAX_XZ_DECODER_BYTES = 128 * 1024 * 1024;

/** At most this much of xz's stderr is kept for an error message. */
const STDERR_KEEP = 1024;

/** Bytes read from xz's output at a time (into one reused buffer). */
const OUTPUT_BUFFER_BYTES = 256 * 1024;

/** Programs that could not be started: not tried again in this process. */
const unavailable = new Set<string>();

/**
 * The reading end of xz's output: a connected Unix socket read into one reused buffer. Each chunk
 * handed out is a view into that buffer, valid until the next one is asked for.
 */
class OutputChannel {
  private ready: Uint8Array | undefined;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err) => {
      this.failure ??= err;
      this.finish();
    });
  }

  /** The `onread` callback: keeps the chunk and pauses the socket until it is consumed. */
  deliver(n: number, buffer: Buffer): boolean {
    this.ready = buffer.subarray(0, n);
    this.poke();
    return false;
  }

  private finish(): void {
    this.ended = true;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next chunk (lent), or `undefined` at the end of the output. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const chunk = this.ready;
      if (chunk !== undefined) {
        this.ready = undefined;
        return chunk;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.socket.resume();
      });
    }
  }
}

/** A started decoder: the child, its output channel and its exit. @internal */
export interface XzDecoder {
  command: string;
  child: ChildProcess;
  output: OutputChannel;
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `command --decompress` writing into a fresh output channel; `undefined` when the program
 * cannot be started (not installed, not executable) or the channel cannot be made, which is
 * remembered for the rest of the process.
 * @internal
 */
export async function startXzDecoder(command: string): Promise<XzDecoder | undefined> {
  if (unavailable.has(command)) return undefined;
  // Loaded here: readers that never meet an xz member never load them.
  const [{ spawn }, net, { mkdtemp, rm }, { tmpdir }, { join }] = await Promise.all([
    import('node:child_process'),
    import('node:net'),
    import('node:fs/promises'),
    import('node:os'),
    import('node:path'),
  ]);
  const server = net.createServer();
  let dir: string | undefined;
  let client: Socket | undefined;
  let childEnd: Socket | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), 'otakit-unxz-'));
    const path = join(dir, 'out');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    let output: OutputChannel | undefined;
    const buffer = Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES);
    const connecting = net.connect({
      path,
      onread: { buffer, callback: (n: number, buf: Buffer) => output!.deliver(n, buf) },
    });
    client = connecting;
    output = new OutputChannel(connecting);
    await new Promise<void>((resolve, reject) => {
      connecting.once('connect', resolve);
      connecting.once('error', reject);
    });
    childEnd = await accepted;
    const child = spawn(
      command,
      [
        '--decompress',
        '--stdout',
        '--format=xz',
        '--threads=1',
        `--memlimit-decompress=${MAX_XZ_DECODER_BYTES}`,
        '--no-warn',
      ],
      { stdio: ['pipe', childEnd, 'pipe'] },
    );
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const started = await new Promise<boolean>((resolve) => {
      child.once('error', () => resolve(false));
      child.once('spawn', () => resolve(true));
    });
    // The child holds its own copy of its end.
    childEnd.destroy();
    if (!started) {
      unavailable.add(command);
      connecting.destroy();
      return undefined;
    }
    return { command, child, output, closed };
  } catch {
    // No Unix socket here (a platform without them, an unwritable temporary directory): the
    // WebAssembly decoder is used instead.
    unavailable.add(command);
    client?.destroy();
    childEnd?.destroy();
    return undefined;
  } finally {
    server.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Decodes an xz stream with a started decoder (see {@link startXzDecoder}). `lend`: hand out views
 * into the reused output buffer (each valid until the next is asked for) instead of copies. An
 * error of the input (a truncated artifact, an abort) is rethrown as it is; xz's own failures
 * become `ArtifactError`s: `ERR_ARTIFACT_TOO_LARGE` when the stream needs more than
 * {@link MAX_XZ_DECODER_BYTES}, `ERR_ARTIFACT_DECOMPRESSION` otherwise.
 * @internal
 */
export async function* unxzWithChild(
  decoder: XzDecoder,
  input: AsyncIterable<Uint8Array>,
  member: string,
  lend: boolean,
): AsyncGenerator<Uint8Array> {
  const { child, output, closed, command } = decoder;
  const stdin = child.stdin!;
  const stderrStream = child.stderr!;
  let stderr = '';
  stderrStream.setEncoding('utf8');
  stderrStream.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
  });
  // A write into a pipe whose reader died (EPIPE) is reported by the exit status.
  stdin.on('error', () => undefined);
  let stopped = false;
  let inputError: unknown;
  let inputFailed = false;
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const write = (chunk: Uint8Array) =>
    new Promise<boolean>((resolve) => {
      stdin.write(chunk, (err) => resolve(!err));
    });
  const pump = (async () => {
    const iterator = input[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || stopped) break;
        // Waits until the pipe took the chunk: the source may reuse its buffer afterwards.
        if (next.value.length > 0 && !(await write(next.value))) return;
      }
      if (!stopped) stdin.end();
    } catch (err) {
      inputFailed = true;
      inputError = err;
      kill();
    } finally {
      if (stopped) await iterator.return?.()?.catch(() => undefined);
    }
  })();
  let finished = false;
  try {
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await output.next();
      } catch (err) {
        if (inputFailed) break;
        kill();
        throw xzError(member, command, (err as Error).message);
      }
      if (chunk === undefined) break;
      yield lend ? chunk : Buffer.from(chunk);
    }
    await pump;
    const { code, signal } = await closed;
    if (inputFailed) throw inputError;
    if (code !== 0) {
      const why = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
      const detail = stderr.trim();
      throw xzError(member, command, `${why}${detail ? `: ${detail}` : ''}`);
    }
    finished = true;
  } finally {
    output.socket.destroy();
    if (!finished) {
      stopped = true;
      kill();
      stdin.destroy();
      // No xz outlives the read.
      await closed;
      await pump;
    }
  }
}

function xzError(member: string, command: string, why: string): ArtifactError {
  if (/memory usage limit/i.test(why)) {
    return new ArtifactError(
      'ERR_ARTIFACT_TOO_LARGE',
      `an xz stream needs more decoder memory than the limit of ${MAX_XZ_DECODER_BYTES} bytes (${command}: ${why})`,
      { member },
    );
  }
  return new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', `corrupt compressed data (${command} ${why})`, {
    member,
  });
}
