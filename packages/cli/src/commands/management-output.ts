import { ApiError, OtakitError } from '@otakit/management-client';
import { SingleBar } from 'cli-progress';
import { type Command, CommanderError } from 'commander';
import { CliError } from './management-config.js';

/** Writes a line to stdout. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Prints JSON (two-space indented). */
export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** Prints rows as an aligned text table with a header. */
export function printTable(headers: string[], rows: Array<Array<string | number | undefined>>): void {
  const cells = rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  out(line(headers));
  for (const r of cells) out(line(r));
}

/** A progress bar on stderr, only when stderr is a terminal; otherwise every call is a no-op. */
export interface Progress {
  start(total: number, value?: number): void;
  update(value: number, total?: number): void;
  stop(): void;
}

/** Makes a {@link Progress} (cli-progress) when stderr is a TTY. */
export function progressBar(format: string): Progress {
  if (!process.stderr.isTTY) return { start() {}, update() {}, stop() {} };
  const bar = new SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: false });
  let started = false;
  return {
    start(total, value = 0) {
      bar.start(total, value);
      started = true;
    },
    update(value, total) {
      if (!started) return;
      if (total !== undefined) bar.setTotal(total);
      bar.update(value);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/**
 * Runs a command's action, turning failures into one `otakit: ...` line on stderr and a non-zero
 * exit (no stack trace; error messages never contain the token).
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof CommanderError) throw err;
      const [message, exitCode] = describe(err);
      cmd.error(`otakit: ${message}`, { exitCode, code: 'otakit.management' });
    }
  };
}

function describe(err: unknown): [string, number] {
  if (err instanceof CliError) return [err.message, err.exitCode];
  if (err instanceof ApiError) {
    const hint =
      err.status === 401
        ? ' (is the token valid? run `otakit login`)'
        : err.status === 404
          ? ' (not found)'
          : '';
    return [`${err.message}${hint}`, 1];
  }
  if (err instanceof OtakitError) return [`${err.code}: ${err.message}`, 1];
  if (err instanceof Error && (err.name === 'TypeError' || err.name === 'Error')) return [err.message, 1];
  return [String(err), 1];
}
