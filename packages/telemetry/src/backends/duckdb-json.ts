/**
 * Which JSON texts the DuckDB backend may append without DuckDB checking them (its direct write,
 * see duckdb.ts).
 */

import type { StoredRow } from '../message.js';

/**
 * A `\u` escape of a UTF-16 surrogate (`\ud800` to `\udfff`). JSON.parse accepts one alone,
 * DuckDB's JSON reader does not (a valid pair it accepts, but the screen stays simple).
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * Whether a row's JSON texts (payload, metrics) are ones DuckDB accepts as JSON without checking
 * them: the texts JSON.parse accepted, but for surrogate escapes (test/duckdb-writes.test.ts
 * checks random texts and the edge cases against DuckDB's `json_valid`).
 * @internal
 */
export function appendsAsJson(row: StoredRow): boolean {
  if (row.payloadJson !== null && SURROGATE_ESCAPE.test(row.payloadJson)) return false;
  // The metrics' names come from the payload's keys, and JSON.stringify escapes a lone surrogate.
  return !row.metrics.some(([name]) => /[\ud800-\udfff]/.test(name));
}
