import { setTimeout as sleep } from 'node:timers/promises';
import { AbortError, type RequestOptions } from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import type { Deployment, DeploymentStatistics } from './types.js';

/** The calls a {@link DeploymentWait} polls (the deployments resource). */
export interface DeploymentSource {
  get(deploymentId: string, opts?: RequestOptions): Promise<Deployment>;
  statistics(deploymentId: string, opts?: RequestOptions): Promise<DeploymentStatistics>;
}

/** One observation of a deployment. */
export interface DeploymentSnapshot {
  deployment: Deployment;
  statistics: DeploymentStatistics;
}

/** Options of `deployments.waitFor`. */
export interface WaitForOptions extends RequestOptions {
  /**
   * When to stop: `'finished'` (default: the deployment's status is `finished`), or a predicate on
   * each snapshot.
   */
  until?: 'finished' | ((snapshot: DeploymentSnapshot) => boolean);
  /** First poll interval in ms. Default 1 000. */
  interval?: number;
  /** Largest poll interval in ms (the interval doubles while nothing changes). Default 30 000. */
  maxInterval?: number;
}

/** Events of a {@link DeploymentWait}. */
export interface DeploymentWaitEvents {
  /** Each poll whose counts or status differ from the previous poll (and the first). */
  statistics: (snapshot: DeploymentSnapshot) => void;
}

/** The states counted as finished for a device in a deployment. */
export const FINISHED_DEVICE_STATES = [
  'success',
  'failure',
  'aborted',
  'noartifact',
  'already-installed',
  'decommissioned',
] as const;

/** How many devices have finished the deployment (in any final state). */
export function finishedCount(statistics: DeploymentStatistics): number {
  let n = 0;
  for (const key of FINISHED_DEVICE_STATES) n += (statistics as Record<string, number | undefined>)[key] ?? 0;
  return n;
}

/** How many devices the statistics count in total. */
export function totalCount(statistics: DeploymentStatistics): number {
  let n = 0;
  for (const value of Object.values(statistics)) if (typeof value === 'number') n += value;
  return n;
}

/**
 * Waits for a deployment, polling its status and statistics with backoff: the interval starts at
 * `interval` and doubles (up to `maxInterval`) while nothing changes, and drops back when the counts
 * move. `await` it for the final snapshot; listen to `statistics`.
 */
export class DeploymentWait
  extends EventEmitter<DeploymentWaitEvents>
  implements PromiseLike<DeploymentSnapshot>
{
  readonly #done: Promise<DeploymentSnapshot>;

  /** @internal */
  constructor(source: DeploymentSource, deploymentId: string, opts: WaitForOptions) {
    super();
    this.#done = this.#run(source, deploymentId, opts);
    this.#done.catch(() => {});
  }

  async #run(source: DeploymentSource, id: string, opts: WaitForOptions): Promise<DeploymentSnapshot> {
    const { until = 'finished', interval = 1_000, maxInterval = 30_000, ...call } = opts;
    const done = until === 'finished' ? (s: DeploymentSnapshot) => s.deployment.status === 'finished' : until;
    let wait = interval;
    let previous = '';
    for (;;) {
      if (call.signal?.aborted) throw call.signal.reason ?? new AbortError();
      const [deployment, statistics] = await Promise.all([source.get(id, call), source.statistics(id, call)]);
      const snapshot = { deployment, statistics };
      const key = `${deployment.status}:${JSON.stringify(statistics)}`;
      if (key !== previous) {
        previous = key;
        wait = interval;
        this.emit('statistics', snapshot);
      } else {
        wait = Math.min(maxInterval, wait * 2);
      }
      if (done(snapshot)) return snapshot;
      await sleep(wait, undefined, call.signal === undefined ? undefined : { signal: call.signal }).catch(
        (err) => {
          throw call.signal?.aborted ? (call.signal.reason ?? new AbortError()) : err;
        },
      );
    }
  }

  // biome-ignore lint/suspicious/noThenProperty: a wait is awaitable by design.
  then<R1 = DeploymentSnapshot, R2 = never>(
    onfulfilled?: ((value: DeploymentSnapshot) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#done.then(onfulfilled, onrejected);
  }
}
