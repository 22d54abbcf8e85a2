/**
 * The DuckDB files open in this process. DuckDB's lock on a database file is per process, so a
 * second instance of the same file in one process opens without error; two instances then write
 * the file independently, and the store's writer turns, roller flag and cached watermark (see
 * duckdb.ts) each assume one backend per file. A second open of a file is refused instead.
 */

import { resolve } from 'node:path';
import { TelemetryOpenError } from '../errors.js';

const open = new Set<string>();

/**
 * Claims `path` for one backend (`:memory:` is every open's own), or throws
 * {@link TelemetryOpenError} when a store of this process has it open; returns the release.
 * @internal
 */
export function claimDuckDbFile(path: string): () => void {
  if (path === ':memory:') return () => undefined;
  const key = resolve(path);
  if (open.has(key)) {
    throw new TelemetryOpenError(
      `the telemetry store ${path} is already open in this process: share that store, or close it first`,
    );
  }
  open.add(key);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    open.delete(key);
  };
}
