import { type BackoffOptions, backoffDelay, sleep } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import { type EventSink, errorMessage, safeEmit } from '../events.js';
import type { DeploymentChannel } from './channel.js';
import type { DeploymentLog } from './deployment-log.js';
import type { DeploymentStatus, UpdateRecord } from './states.js';

/** How the status reports that must get through (before the commit, the final one) are retried. */
export interface StatusReportOptions {
  /** Attempts of each such report. Default 5. */
  attempts?: number;
  /** Backoff between attempts (core's {@link BackoffOptions}). Default `{ baseDelayMs: 1000, maxDelayMs: 60_000 }`. */
  retry?: Partial<BackoffOptions>;
}

/** The default backoff between status report attempts. */
export const DEFAULT_STATUS_RETRY: BackoffOptions = { baseDelayMs: 1000, maxDelayMs: 60_000 };

/**
 * Sends an update's status reports to the server where the Mender client sends them, for
 * deployments only (standalone installs report nothing).
 * @internal
 */
export class StatusReporter {
  readonly #channel: DeploymentChannel | undefined;
  readonly #attempts: number;
  readonly #retry: BackoffOptions;
  readonly #log: DeploymentLog;
  readonly #sink: EventSink;

  constructor(
    channel: DeploymentChannel | undefined,
    options: StatusReportOptions,
    log: DeploymentLog,
    sink: EventSink,
  ) {
    this.#channel = channel;
    this.#attempts = options.attempts ?? 5;
    this.#retry = { ...DEFAULT_STATUS_RETRY, ...options.retry };
    this.#log = log;
    this.#sink = sink;
  }

  /**
   * Reports a status. A 409 throws `ERR_DEVICE_DEPLOYMENT_ABORTED`. With `mustSucceed` other errors
   * are retried with backoff and finally thrown; otherwise they are logged and ignored.
   */
  async report(
    record: UpdateRecord,
    status: DeploymentStatus,
    mustSucceed: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const channel = this.#channel;
    if (record.source.kind !== 'deployment' || !channel) return;
    const id = record.source.deploymentId;
    const attempts = mustSucceed ? this.#attempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        await channel.reportStatus(id, status, signal ? { signal } : {});
        safeEmit(this.#sink, 'deployment:status', { deploymentId: id, status });
        return;
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        safeEmit(this.#sink, 'deployment:status', { deploymentId: id, status, error: errorMessage(err) });
        if (err instanceof DeviceError && err.code === DeviceErrorCodes.DEPLOYMENT_ABORTED) throw err;
        await this.#log.append(record, 'warning', `status report ${status} failed: ${errorMessage(err)}`);
        if (attempt >= attempts) {
          if (mustSucceed) throw err;
          return;
        }
        await sleep(backoffDelay(attempt, this.#retry), signal);
      }
    }
  }

  /** The final `success`/`failure` report, with the deployment log after a failure. Never throws but on abort. */
  async reportFinal(record: UpdateRecord, signal?: AbortSignal): Promise<void> {
    const channel = this.#channel;
    if (record.source.kind !== 'deployment' || !channel) return;
    const id = record.source.deploymentId;
    if (record.outcome === 'aborted') return; // the server already knows; reports would 409
    const status: DeploymentStatus = record.outcome === 'success' ? 'success' : 'failure';
    try {
      await this.report(record, status, true, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      this.#sink.logger.warn('otakit device: final status report failed', { error: errorMessage(err) });
      return;
    }
    if (status === 'failure') {
      try {
        await channel.uploadLog(id, await this.#log.read(record), signal ? { signal } : {});
      } catch (err) {
        if (signal?.aborted) throw err;
        this.#sink.logger.warn('otakit device: deployment log upload failed', { error: errorMessage(err) });
      }
    }
  }
}
