import type { StoredRow } from '../message.js';
import type { Dialect } from '../sql/migrations.js';

/**
 * What the store needs from a database: apply the migrations, write a batch atomically and
 * idempotently, run a read query. One implementation per database.
 * @internal
 */
export interface Backend {
  readonly dialect: Dialect;
  /** Applies the migrations not yet applied. */
  migrate(): Promise<void>;
  /**
   * Writes `rows` (distinct ids) in one transaction, skipping ids already stored, and returns the
   * ids it inserted. Rejects, having stored none of them, when the transaction fails.
   */
  write(rows: readonly StoredRow[]): Promise<Set<string>>;
  /** Runs a read query; rows as plain objects keyed by column name. */
  query(text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}
