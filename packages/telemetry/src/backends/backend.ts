import type { StoredRow } from '../message.js';
import type { Dialect } from '../sql/migrations.js';

/** Runs one statement inside a unit of work of {@link Backend}. */
export type Querier = (text: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * What the store needs from a database: apply the migrations, write a batch atomically and
 * idempotently, run a read query. One implementation per database.
 * @internal
 */
export interface Backend {
  readonly dialect: Dialect;
  /**
   * How many `write` calls may run at once (each its own transaction). Two writes of one id at
   * once still store it once: the primary key makes the second wait for the first and skip it.
   */
  readonly writeConcurrency: number;
  /** Applies the migrations not yet applied. */
  migrate(): Promise<void>;
  /**
   * Writes `rows` (distinct ids) in one transaction, skipping ids already stored, and returns the
   * ids it inserted. Rejects, having stored none of them, when the transaction fails.
   */
  write(rows: readonly StoredRow[]): Promise<Set<string>>;
  /** Runs a read query; rows as plain objects keyed by column name. */
  query(text: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Runs `work` in one transaction while no write is in progress, and lets no write start until
   * that transaction committed: a write that starts after sees what `work` committed. (PostgreSQL:
   * every write holds a shared advisory lock, `work` the exclusive one; DuckDB: one process, the
   * writes and `work` take turns.)
   */
  excludingWriters<T>(work: (q: Querier) => Promise<T>): Promise<T>;
  /**
   * Runs `work` in one transaction that sees one snapshot for all its statements (PostgreSQL:
   * `repeatable read`). Read-only unless `roller`: then it may write, and runs only when no other
   * roller runs (resolving `undefined` at once otherwise); the lock is taken before the snapshot,
   * so a roller sees everything the previous roller committed.
   */
  inSnapshot<T>(work: (q: Querier) => Promise<T>, roller?: boolean): Promise<T | undefined>;
  close(): Promise<void>;
}
