import { spawn } from 'node:child_process';
import { InstallerError, InstallerErrorCodes } from './errors.js';

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Working directory of the child. */
  cwd?: string;
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string>;
  /** Kill the child (its whole process group) after this many ms; no limit when undefined. */
  timeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL on timeout or abort (default 2000 ms). */
  killGraceMs?: number;
  /** Aborts the child like a timeout does. */
  signal?: AbortSignal;
  /** Called with each complete line of stdout and stderr as it arrives. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** Cap on the captured stdout/stderr text each (default 1 MiB; the rest is dropped). */
  maxCapture?: number;
  /** Called synchronously right after the child was spawned, with its pid. */
  onSpawn?: (pid: number) => void;
}

/** How a command ended. */
export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** The terminating signal, if any. */
  signal: NodeJS.Signals | null;
  /** Captured stdout (bounded). */
  stdout: string;
  /** Captured stderr (bounded). */
  stderr: string;
  /** Whether the child was killed because the timeout passed. */
  timedOut: boolean;
  /** Whether the child was killed because the abort signal fired. */
  aborted: boolean;
}

/**
 * Runs `argv` (no shell) in its own process group, capturing its output line by line. On timeout or
 * abort the whole group gets SIGTERM, then SIGKILL after a grace period, so children a script forked
 * (e.g. `sleep`) do not outlive it. Fails with `ERR_INSTALLER_UNSUPPORTED` when the executable does
 * not exist; a non-zero exit is returned, not thrown.
 */
export function runCommand(argv: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'empty command');
  const max = options.maxCapture ?? 1024 * 1024;
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env === undefined ? process.env : { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const captured = { stdout: '', stderr: '' };
    const partial = { stdout: '', stderr: '' };

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 2000);
      killTimer.unref();
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    const collect = (name: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (captured[name].length < max) captured[name] += text.slice(0, max - captured[name].length);
      if (options.onLine === undefined) return;
      partial[name] += text;
      const lines = partial[name].split('\n');
      partial[name] = lines.pop() ?? '';
      for (const line of lines) options.onLine(name, line);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    // Synchronously, in the same tick as spawn(): a record of the child made here is on disk before
    // anything else this process does.
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(
        new InstallerError(
          err.code === 'ENOENT' ? InstallerErrorCodes.UNSUPPORTED : InstallerErrorCodes.MODULE_FAILED,
          `cannot run ${file}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.once('exit', () => {
      // A grandchild that kept stdout/stderr open must not keep us waiting for 'close' forever.
      const t = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, 5000);
      t.unref();
      child.once('close', () => clearTimeout(t));
    });
    child.once('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // The leader exited; make sure nothing it forked lingers after a timeout or abort.
      if (timedOut || aborted) killGroup('SIGKILL');
      for (const name of ['stdout', 'stderr'] as const) {
        if (options.onLine !== undefined && partial[name] !== '') options.onLine(name, partial[name]);
      }
      resolve({ code, signal, stdout: captured.stdout, stderr: captured.stderr, timedOut, aborted });
    });
  });
}
