/**
 * The store's write side: a bounded queue of accepted messages, written in batches (one
 * transaction each) by a single drain loop. An append's promise settles once its message is
 * durable or could not be stored, so a broker can hold its PUBACK (or a push endpoint its 2xx)
 * until then; past `maxQueued` messages an append is refused at once (backpressure) instead of
 * buffered.
 */

import type { Backend } from './backends/backend.js';
import { TelemetryBackpressureError, TelemetryClosedError, TelemetryWriteError } from './errors.js';
import { type MessageLimits, type StoredRow, type TelemetryMessage, toStoredRow } from './message.js';
import type { AppendResult } from './types.js';

interface Pending {
  row: StoredRow;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** @internal The queue a {@link TelemetryStore} appends through. */
export class IngestQueue {
  readonly #backend: Backend;
  readonly #maxQueued: number;
  readonly #maxBatch: number;
  readonly #limits: MessageLimits;
  #queue: Pending[] = [];
  /** Messages accepted and not yet settled (queued or being written). */
  #inFlight = 0;
  /** The drain loops not finished (at most the backend's `writeConcurrency`), for `flush`. */
  readonly #writers = new Set<Promise<void>>();
  /** The drain loops that may still take a batch. */
  #active = 0;
  #closed = false;
  #writableWaiters: Array<() => void> = [];

  constructor(backend: Backend, maxQueued: number, maxBatch: number, limits: MessageLimits) {
    this.#backend = backend;
    this.#maxQueued = maxQueued;
    this.#maxBatch = maxBatch;
    this.#limits = limits;
  }

  /** Messages accepted and not yet stored or failed. */
  get pending(): number {
    return this.#inFlight;
  }

  /** See {@link TelemetryStore.append}: one message, without the batch's array and `Promise.all`. */
  append(message: TelemetryMessage): Promise<AppendResult> {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    let row: StoredRow;
    try {
      row = toStoredRow(message, this.#limits);
    } catch (err) {
      return Promise.reject(err);
    }
    const refused = this.#refusal(1);
    if (refused) return Promise.reject(refused);
    this.#inFlight++;
    const settled = this.#enqueue(row);
    this.#kick();
    return settled;
  }

  /** See {@link TelemetryStore.appendBatch}. */
  appendBatch(messages: readonly TelemetryMessage[]): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    let rows: StoredRow[];
    try {
      rows = messages.map((m) => toStoredRow(m, this.#limits));
    } catch (err) {
      return Promise.reject(err);
    }
    const refused = this.#refusal(rows.length);
    if (refused) return Promise.reject(refused);
    this.#inFlight += rows.length;
    const settled = rows.map((row) => this.#enqueue(row));
    this.#kick();
    return Promise.all(settled);
  }

  /** The backpressure error when `count` more messages would pass `maxQueued`, else undefined. */
  #refusal(count: number): TelemetryBackpressureError | undefined {
    return this.#inFlight + count > this.#maxQueued
      ? new TelemetryBackpressureError(this.#inFlight, this.#maxQueued)
      : undefined;
  }

  /** Queues an admitted row; the promise settles when its batch is stored or fails. */
  #enqueue(row: StoredRow): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
    });
  }

  /** See {@link TelemetryStore.whenWritable}. */
  whenWritable(count = 1): Promise<void> {
    if (this.#closed) return Promise.reject(new TelemetryClosedError());
    if (this.#inFlight + count <= this.#maxQueued) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.#closed || this.#inFlight + count <= this.#maxQueued) resolve();
        else this.#writableWaiters.push(check);
      };
      this.#writableWaiters.push(check);
    });
  }

  /** Resolves when every message accepted so far is stored or failed. */
  async flush(): Promise<void> {
    while (this.#writers.size > 0) await Promise.all([...this.#writers]);
  }

  /** Refuses new appends, writes what was accepted, and wakes the producers waiting for room. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    for (const w of this.#writableWaiters) w();
    this.#writableWaiters = [];
  }

  #kick(): void {
    // A second loop only once a batch is queued behind the first loop's (it then writes while the
    // first one commits: on PostgreSQL two transactions on two connections).
    if (this.#active >= this.#backend.writeConcurrency || (this.#active > 0 && this.#queue.length === 0))
      return;
    // Counted until the loop's last check of the queue (synchronously): an append after that
    // starts a new loop.
    this.#active++;
    const loop: Promise<void> = this.#drain();
    this.#writers.add(loop);
    void loop.finally(() => this.#writers.delete(loop)).catch(() => undefined);
  }

  async #drain(): Promise<void> {
    let counted = true;
    try {
      for (;;) {
        if (this.#queue.length === 0) {
          // In the same step as the check: an append after it finds the loop gone and starts one.
          counted = false;
          this.#active--;
          return;
        }
        // Let producers woken by the last batch queue their next messages first, so that batches
        // stay large under load instead of alternating between a few messages and many.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = this.#queue.splice(0, this.#maxBatch);
        if (batch.length === 0) continue;
        await this.#writeBatch(batch);
        this.#inFlight -= batch.length;
        const waiters = this.#writableWaiters;
        this.#writableWaiters = [];
        for (const w of waiters) w();
      }
    } finally {
      if (counted) this.#active--;
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    // One row per id: a later copy of an id in the same batch is a duplicate of the first.
    const first = new Map<string, StoredRow>();
    for (const p of batch) if (!first.has(p.row.id)) first.set(p.row.id, p.row);
    const rows = [...first.values()];
    let inserted: Set<string>;
    const failed = new Map<string, unknown>();
    try {
      inserted = await this.#backend.write(rows);
    } catch {
      // Write the rows one by one, so that one row the database refuses fails alone.
      inserted = new Set();
      for (const row of rows) {
        try {
          for (const id of await this.#writeOne(row)) inserted.add(id);
        } catch (err) {
          failed.set(row.id, err);
        }
      }
    }
    const claimed = new Set<string>();
    for (const p of batch) {
      const err = failed.get(p.row.id);
      if (err === undefined) {
        p.resolve({ id: p.row.id, duplicate: !inserted.has(p.row.id) || claimed.has(p.row.id) });
        claimed.add(p.row.id);
      } else {
        p.reject(
          new TelemetryWriteError(`message ${p.row.id} was not stored: ${errorText(err)}`, { cause: err }),
        );
      }
    }
  }

  /** Writes one row; if the database refuses its JSON, stores the payload raw instead. */
  async #writeOne(row: StoredRow): Promise<Set<string>> {
    try {
      return await this.#backend.write([row]);
    } catch (err) {
      if (row.payloadJson === null) throw err;
      return await this.#backend.write([
        { ...row, payloadRaw: row.payloadJson, payloadJson: null, payloadEncoding: 'utf8' },
      ]);
    }
  }
}

/** An error's message, for wrapping it. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
