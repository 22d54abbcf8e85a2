/**
 * What a registry sync reports: per-device results, counts, and the awaitable, observable run.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';

/** One change the sync made (or would make, in a dry run). */
export type SyncChange =
  | { type: 'preauthorize'; pubkey: string; force: boolean; menderId?: string }
  | { type: 'accept'; authSetId: string }
  | { type: 'dismiss'; authSetId: string }
  | { type: 'reject'; authSetId: string }
  | { type: 'decommission'; menderId: string };

/** The outcome for one device. */
export type SyncOutcome =
  /** New in Mender: preauthorized with its keys. */
  | 'preauthorized'
  /** Existing in Mender: keys added and/or stale auth sets removed. */
  | 'updated'
  /** Already in sync. */
  | 'unchanged'
  /** Blocked in, or deleted from, the registry: rejected in Mender. */
  | 'rejected'
  /** Blocked in, or deleted from, the registry: decommissioned. */
  | 'decommissioned'
  /** Nothing done: policy `'skip'`, or no active credential. */
  | 'skipped'
  /** A Mender call failed; `error` says why. The sync went on with the other devices. */
  | 'failed';

/** The report of one device. */
export interface DeviceSyncResult {
  /** The registry device id (undefined for a managed Mender device no longer in the registry). */
  deviceId: string | undefined;
  identity: Record<string, unknown>;
  /** The Mender device id, when there is one. */
  menderId: string | undefined;
  /** What happened to it. */
  outcome: SyncOutcome;
  /** Why: `blocked`, `deleted`, `no-active-credential`, `rotated`, … */
  reason?: string;
  /** The Mender changes made (or planned), in order. */
  changes: SyncChange[];
  /** Credentials skipped (expired, unreadable), with the reason. */
  skippedCredentials: Array<{ index: number; reason: string }>;
  /** What failed, when `outcome` is `'failed'`. */
  error?: unknown;
}

/** The report of a sync. */
export interface SyncReport {
  /** One entry per registry device, then per managed Mender device no longer in the registry. */
  devices: DeviceSyncResult[];
  /** How many devices ended in each outcome. */
  counts: Record<SyncOutcome, number>;
  /** Whether this was a dry run (nothing changed in Mender). */
  dryRun: boolean;
}

/** Events of a {@link SyncRun}. */
export interface SyncEvents {
  /** One device done (any outcome). */
  device: (result: DeviceSyncResult) => void;
  /** A change made (or planned, in a dry run). */
  change: (e: { deviceId: string | undefined; change: SyncChange }) => void;
}

/**
 * A running sync: `await` it for the {@link SyncReport}; listen to `device` and `change` events
 * meanwhile (attach them right away: the sync starts on the next turn of the event loop).
 */
export class SyncRun extends EventEmitter<SyncEvents> implements PromiseLike<SyncReport> {
  readonly #promise: Promise<SyncReport>;

  /** @internal */
  constructor(run: (self: SyncRun) => Promise<SyncReport>) {
    super();
    this.#promise = new Promise<void>((resolve) => setImmediate(resolve)).then(() => run(this));
    this.#promise.catch(() => {});
  }

  /** Resolves with the report when the sync is done; rejects when it could not run. */
  // biome-ignore lint/suspicious/noThenProperty: a SyncRun is awaitable by design.
  then<R1 = SyncReport, R2 = never>(
    onfulfilled?: ((report: SyncReport) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#promise.then(onfulfilled, onrejected);
  }
}
