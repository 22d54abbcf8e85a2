/**
 * Decoding through a system program (`xz`, `zstd`) run as a child process: the compressed bytes go
 * to its stdin, the decoded bytes come from its stdout. Preferred over the WebAssembly decoders by
 * measurement (see the core README, "xz and zstd reading"): the native decoders are
 * faster, run on another core, and their memory (the window, the compiled decoder) is the
 * child's, not the reader's. When the program cannot be started, {@link decompressor} falls back
 * to the WebAssembly decoder.
 *
 * Bounds: the caller caps the child's decoder memory with the program's own option (a stream that
 * needs more is refused); the input is written one chunk at a time (the next chunk is pulled only
 * once the pipe took the previous one, so lent chunks are never held), and the output is read with
 * backpressure. The child never outlives the generator: when it finishes, fails or is closed
 * early, the child is killed and waited for.
 *
 * The output does not come through a pipe: Node reads a pipe into a fresh 64 KiB buffer per read,
 * and that garbage raised the reader's peak RSS by about 20 MiB on a 64 MiB payload. The program
 * writes into a Unix socket instead, whose other end is read with `onread` into one reused buffer;
 * its input comes through a second one (see {@link startDecoderProcess}). The sockets' path lives
 * in a private temporary directory (mode 0700) only until the ends are connected.
 *
 * Only node:fs's callback API is used here, and node:os not at all (node:fs/promises and its `rm`
 * load five more modules, about 0.5 MiB of the reader's peak RSS; with node:os, the output
 * buffer at 256 KiB, the zstd reader peaked 0.35 MiB higher).
 */

import type { ChildProcess } from 'node:child_process';
import type { NetConnectOpts, Socket } from 'node:net';
import { ArtifactError } from './errors.js';
import { OutputChannel } from './output-channel.js';

/** At most this much of the program's stderr is kept for an error message. */
const STDERR_KEEP = 1024;

/**
 * Bytes read from the program's output at a time (into one reused buffer). 128 KiB, zstd's block
 * size: 256 KiB cost the peak RSS of `otakit artifact validate` 0.1 MiB more (measured).
 */
const OUTPUT_BUFFER_BYTES = 128 * 1024;

/**
 * The output buffer of the last decoder that finished, for the next one: an artifact's header and
 * data members are decoded one after the other, and a buffer left to the garbage collector stays
 * in memory until a collection that a read may never trigger (0.1-0.15 MiB of the peak RSS of
 * `otakit artifact validate` of a zstd artifact, measured).
 */
let spareOutputBuffer: Buffer | undefined;

/** Programs that could not be started: not tried again in this process. */
const unavailable = new Set<string>();

/** How a child process ended. @internal */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A program that writes the decoder's input itself (see {@link startDecoderProcess}): `command
 * ...args` with `stdin` (an open file descriptor) as its standard input. @internal
 */
export interface FeederSpec {
  command: string;
  args: readonly string[];
  stdin: number;
}

/** A started feeder (see {@link FeederSpec}): the child, its exit and the end of its stderr. @internal */
export interface FeederProcess {
  command: string;
  child: ChildProcess;
  closed: Promise<ChildExit>;
  stderr(): string;
}

/** A started decoder: the child, its output channel and its exit. @internal */
export interface DecoderProcess {
  command: string;
  child: ChildProcess;
  output: OutputChannel;
  /** The buffer `output` reads into (handed to the next decoder once this one is done). */
  buffer: Buffer;
  /**
   * The program's stdin: our end of a Unix socket (see {@link startDecoderProcess}); closed
   * already when a feeder writes into it.
   */
  input: Socket;
  closed: Promise<ChildExit>;
  /** The program that writes the decoder's input, when one does: there is no input to write then. */
  feeder?: FeederProcess | undefined;
}

/**
 * The temporary directory, as node:os's `tmpdir()` finds it on Unix (`$TMPDIR`, `$TMP`, `$TEMP`,
 * else /tmp), without loading node:os.
 */
function temporaryDirectory(): string {
  const dir = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** node:fs's callback functions as promises (see the top of this file for why not fs/promises). */
type Fs = typeof import('node:fs');
const mkdtempP = (fs: Fs, prefix: string) =>
  new Promise<string>((resolve, reject) => {
    fs.mkdtemp(prefix, (err, dir) => (err ? reject(err) : resolve(dir)));
  });
/** Removes the socket file (if the server left it) and its directory; never fails. */
const removeSocketDir = (fs: Fs, dir: string, path: string) =>
  new Promise<void>((resolve) => {
    fs.unlink(path, () => fs.rmdir(dir, () => resolve()));
  });

/**
 * Starts `command ...args` (a decoder reading stdin, writing stdout) with its stdin and stdout
 * connected Unix sockets (made in a directory `otakit-<name>-*` of the temporary directory, removed
 * once connected); `undefined` when the program cannot be started (not installed, not executable)
 * or the sockets cannot be made, which is remembered for the rest of the process.
 *
 * Why a socket for stdin too: a pipe holds 64 KiB, a Unix socket about 200 KiB; measured on a
 * 512 MiB zstd payload (paired runs, 2 loaded cores), validate took 0.90-0.98 s with a pipe and
 * 0.75 s with a socket, the hash limit 0.52 s.
 *
 * With a `feeder`, that program writes the decoder's input: it is started once the decoder runs,
 * with our end of the input socket as its stdout (so the bytes go from one child to the other and
 * never through this process), and the decoder's `feeder` is set. When the feeder cannot be
 * started (which is remembered too), the decoder is returned without one, its input ours to write.
 * @internal
 */
export async function startDecoderProcess(
  command: string,
  args: readonly string[],
  name: string,
  feeder?: FeederSpec,
): Promise<DecoderProcess | undefined> {
  if (unavailable.has(command)) return undefined;
  // Loaded here: readers that never meet such a member never load them.
  const [{ spawn }, net, fs, { join }] = await Promise.all([
    import('node:child_process'),
    import('node:net'),
    import('node:fs'),
    import('node:path'),
  ]);
  const server = net.createServer();
  let dir: string | undefined;
  const sockets: Socket[] = [];
  try {
    dir = await mkdtempP(fs, join(temporaryDirectory(), `otakit-${name}-`));
    const path = join(dir, 'sock');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    /** Connects to the server: our end (with `options`) and the end it accepted, for the child. */
    const pair = async (options: Omit<NetConnectOpts, 'path'>): Promise<[Socket, Socket]> => {
      const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
      const ours = net.connect({ ...options, path } as NetConnectOpts);
      sockets.push(ours);
      await new Promise<void>((resolve, reject) => {
        ours.once('connect', resolve);
        ours.once('error', reject);
      });
      const theirs = await accepted;
      sockets.push(theirs);
      return [ours, theirs];
    };
    let output: OutputChannel | undefined;
    const buffer = spareOutputBuffer ?? Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES);
    spareOutputBuffer = undefined;
    const [outputEnd, childOut] = await pair({
      onread: { buffer, callback: (n: number, buf: Buffer) => output!.deliver(n, buf) },
    });
    output = new OutputChannel(outputEnd);
    const [inputEnd, childIn] = await pair({});
    const { child, closed, started } = await spawnChild(spawn, command, args, [childIn, childOut, 'pipe']);
    // The child holds its own copies of its ends.
    childIn.destroy();
    childOut.destroy();
    if (!started) {
      unavailable.add(command);
      for (const socket of sockets) socket.destroy();
      return undefined;
    }
    // Started only now: until the decoder's copy of its input end was the only one besides ours,
    // this process could have read what the feeder writes.
    const fed =
      feeder && !unavailable.has(feeder.command) ? await startFeeder(spawn, feeder, inputEnd) : undefined;
    // The feeder holds its own copy of our end.
    if (fed) inputEnd.destroy();
    return { command, child, output, buffer, input: inputEnd, closed, feeder: fed };
  } catch {
    // No Unix socket here (a platform without them, an unwritable temporary directory): the
    // WebAssembly decoder is used instead.
    unavailable.add(command);
    for (const socket of sockets) socket.destroy();
    return undefined;
  } finally {
    server.close();
    if (dir !== undefined) await removeSocketDir(fs, dir, join(dir, 'sock'));
  }
}

type Spawn = typeof import('node:child_process').spawn;

/**
 * Spawns `command ...args` with `stdio` (stderr piped); resolves once it started or could not be,
 * with its exit as a promise.
 */
async function spawnChild(
  spawn: Spawn,
  command: string,
  args: readonly string[],
  stdio: [number | Socket, Socket, 'pipe'],
): Promise<{ child: ChildProcess; closed: Promise<ChildExit>; started: boolean }> {
  const child = spawn(command, args, { stdio });
  const closed = new Promise<ChildExit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const started = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.once('spawn', () => resolve(true));
  });
  return { child, closed, started };
}

/** Keeps the last {@link STDERR_KEEP} characters of a child's stderr; returns them, trimmed. */
function stderrTail(child: ChildProcess): () => string {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP);
  });
  return () => stderr.trim();
}

/** Starts a feeder writing into `into`; `undefined` (remembered) when it cannot be started. */
async function startFeeder(
  spawn: Spawn,
  feeder: FeederSpec,
  into: Socket,
): Promise<FeederProcess | undefined> {
  const { child, closed, started } = await spawnChild(spawn, feeder.command, feeder.args, [
    feeder.stdin,
    into,
    'pipe',
  ]);
  if (!started) {
    unavailable.add(feeder.command);
    return undefined;
  }
  return { command: feeder.command, child, closed, stderr: stderrTail(child) };
}

/** How a child that failed ended, for an error message (`undefined` when it exited with 0). */
function howItFailed(exit: ChildExit, stderr: string): string | undefined {
  if (exit.code === 0) return undefined;
  const why = exit.code === null ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  return `${why}${stderr ? `: ${stderr}` : ''}`;
}

/**
 * The `failure` of {@link decodeWithProcess} for a decoder program of `member`: a `why` that
 * matches `overLimit` (the program refused a stream over its memory limit) is
 * `ERR_ARTIFACT_TOO_LARGE` with `overLimitMessage`, anything else `ERR_ARTIFACT_DECOMPRESSION`.
 * @internal
 */
export function programFailure(
  member: string,
  command: string,
  overLimit: RegExp,
  overLimitMessage: string,
): (why: string) => ArtifactError {
  return (why) =>
    overLimit.test(why)
      ? new ArtifactError('ERR_ARTIFACT_TOO_LARGE', `${overLimitMessage} (${command}: ${why})`, { member })
      : new ArtifactError('ERR_ARTIFACT_DECOMPRESSION', `corrupt compressed data (${command} ${why})`, {
          member,
        });
}

/**
 * Decodes a stream with a started decoder (see {@link startDecoderProcess}). `lend`: hand out
 * views into the reused output buffer (each valid until the next is asked for) instead of copies.
 * An error of the input (a truncated artifact, an abort) is rethrown as it is; the program's own
 * failures (a non-zero exit, a kill, a broken output) become the `ArtifactError` that `failure`
 * makes of `why` (how it ended, and the end of its stderr). `options.check` sees each input chunk
 * before the program does; what it throws fails the read as an input error would. When
 * `options.signal` aborts, the program is killed at once (a consumer that gave up while the input
 * is stalled would otherwise leave it running until the input moves) and the decoding fails with
 * the signal's reason.
 *
 * When the decoder has a feeder, `input` is not read (the feeder writes the program's input), the
 * feeder is killed and waited for with the program, and a feeder that fails (the program did not)
 * becomes the `ArtifactError` that `options.feederFailure` makes of `why`.
 * @internal
 */
export async function* decodeWithProcess(
  decoder: DecoderProcess,
  input: AsyncIterable<Uint8Array> | undefined,
  lend: boolean,
  failure: (why: string) => ArtifactError,
  options: {
    check?: (chunk: Uint8Array) => void;
    signal?: AbortSignal | undefined;
    feederFailure?: (why: string) => ArtifactError;
  } = {},
): AsyncGenerator<Uint8Array> {
  const { check, signal } = options;
  const { child, output, closed, feeder } = decoder;
  const stdin = decoder.input;
  const stderr = stderrTail(child);
  // A write into a pipe whose reader died (EPIPE) is reported by the exit status.
  stdin.on('error', () => undefined);
  let stopped = false;
  let inputError: unknown;
  let inputFailed = false;
  const kill = () => {
    for (const c of feeder ? [feeder.child, child] : [child]) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  };
  const bothClosed = () => Promise.all([closed, feeder?.closed]);
  signal?.addEventListener('abort', kill);
  if (signal?.aborted) kill();
  const write = (chunk: Uint8Array) =>
    new Promise<boolean>((resolve) => {
      stdin.write(chunk, (err) => resolve(!err));
    });
  const pump = async () => {
    if (feeder || input === undefined) return;
    const iterator = input[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || stopped) break;
        check?.(next.value);
        // Waits until the pipe took the chunk: the source may reuse its buffer afterwards.
        if (next.value.length > 0 && !(await write(next.value))) return;
      }
      // Half-closes the socket: the program reads the end of its input.
      if (!stopped) stdin.end();
    } catch (err) {
      inputFailed = true;
      inputError = err;
      kill();
    } finally {
      if (stopped) await iterator.return?.()?.catch(() => undefined);
    }
  };
  const pumped = pump();
  let finished = false;
  try {
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await output.next();
      } catch (err) {
        if (inputFailed) break;
        kill();
        throw failure((err as Error).message);
      }
      if (chunk === undefined) break;
      yield lend ? chunk : Buffer.from(chunk);
    }
    // Killed on abort: the input may be stalled, so the pump is not waited for.
    signal?.throwIfAborted();
    await pumped;
    const [exit, feederExit] = await bothClosed();
    if (inputFailed) throw inputError;
    const failed = howItFailed(exit, stderr());
    if (failed !== undefined) throw failure(failed);
    const feederFailed = feeder && feederExit ? howItFailed(feederExit, feeder.stderr()) : undefined;
    if (feederFailed !== undefined) {
      throw (options.feederFailure ?? failure)(`${feeder!.command} ${feederFailed}`);
    }
    finished = true;
  } finally {
    signal?.removeEventListener('abort', kill);
    output.socket.destroy();
    // Nothing reads into the buffer any more: the next decoder may have it.
    spareOutputBuffer = decoder.buffer;
    if (finished) stdin.destroy();
    else {
      stopped = true;
      kill();
      stdin.destroy();
      // No child outlives the read.
      await bothClosed();
      if (!signal?.aborted) await pumped;
    }
  }
}
