import { Backoff, RateLimitError, sleep } from '@otakit/core';
import type { DeploymentInstructions } from './api/device-api.js';
import { DeviceError, DeviceErrorCodes } from './errors.js';
import { type EventSink, errorMessage, safeEmit } from './events.js';
import { DEFAULT_POLL_RETRY, type PollOptions, type RunOptions } from './options.js';

/** Default time between deployment checks, ms (Mender's `UpdatePollIntervalSeconds`, 30 min). */
const UPDATE_POLL_MS = 1_800_000;
/** Default time between inventory updates, ms (Mender's `InventoryPollIntervalSeconds`, 8 h). */
const INVENTORY_POLL_MS = 28_800_000;

/** What the daemon loop drives: the device client's server calls and update runs. @internal */
export interface DaemonHost {
  /** Continues an update interrupted by a crash, power cut or reboot, if any. */
  resume(options: RunOptions): Promise<unknown>;
  /** Whether the device holds a token (no auth request needed before the next call). */
  hasToken(): boolean;
  /** Sends an auth request (throws `ERR_DEVICE_PENDING` while the device is not accepted). */
  authenticate(options: RunOptions): Promise<unknown>;
  sendInventory(options: RunOptions): Promise<unknown>;
  checkForUpdate(options: RunOptions): Promise<DeploymentInstructions | undefined>;
  installDeployment(deployment: DeploymentInstructions, options: RunOptions): Promise<unknown>;
}

/**
 * The daemon loop of a `DeviceClient`: resumes an interrupted update, authenticates (waiting while
 * the device is pending), sends inventory and polls for deployments at their intervals, installs
 * what it finds, and backs off after errors (core's {@link Backoff}; `Retry-After` wins). A
 * {@link DaemonLoop.checkNow} cuts the current wait short.
 * @internal
 */
export class DaemonLoop {
  readonly #host: DaemonHost;
  readonly #poll: PollOptions;
  readonly #sink: EventSink;
  /** Aborted by {@link DaemonLoop.checkNow} to cut the current wait short. */
  #wake = new AbortController();
  #checkRequested = false;

  constructor(host: DaemonHost, poll: PollOptions, sink: EventSink) {
    this.#host = host;
    this.#poll = poll;
    this.#sink = sink;
  }

  /** Asks for a deployment check now instead of at the next poll (taken when the loop next waits). */
  checkNow(): void {
    this.#checkRequested = true;
    this.#wake.abort();
  }

  /** Runs until `signal` aborts; an update stopped that way resumes at the next start. */
  async run(options: RunOptions = {}): Promise<void> {
    const signal = options.signal;
    const call: RunOptions = signal ? { signal } : {};
    const host = this.#host;
    const updatePoll = this.#poll.updateIntervalMs ?? UPDATE_POLL_MS;
    const inventoryPoll = this.#poll.inventoryIntervalMs ?? INVENTORY_POLL_MS;
    const backoff = new Backoff({ ...DEFAULT_POLL_RETRY, ...this.#poll.retry });
    let nextUpdate = 0;
    let nextInventory = 0;
    try {
      let resumed = false;
      while (!signal?.aborted) {
        try {
          // An update interrupted by a crash, power cut or reboot goes first (retried on errors).
          if (!resumed) {
            await host.resume(call);
            resumed = true;
          }
          if (!host.hasToken()) await host.authenticate(call);
          if (this.#checkRequested) {
            this.#checkRequested = false;
            if (this.#wake.signal.aborted) this.#wake = new AbortController();
            nextUpdate = 0;
          }
          const now = Date.now();
          if (now >= nextInventory) {
            await host.sendInventory(call);
            nextInventory = now + inventoryPoll;
          }
          if (now >= nextUpdate) {
            const deployment = await host.checkForUpdate(call);
            nextUpdate = Date.now() + updatePoll;
            if (deployment) {
              await host.installDeployment(deployment, call);
              nextInventory = 0;
              nextUpdate = 0;
              backoff.reset();
              continue;
            }
          }
          backoff.reset();
          await this.#wait(Math.max(0, Math.min(nextUpdate, nextInventory) - Date.now()), 'poll', signal);
        } catch (err) {
          if (signal?.aborted) break;
          const pending = err instanceof DeviceError && err.code === DeviceErrorCodes.DEVICE_PENDING;
          let delayMs = backoff.next();
          if (err instanceof RateLimitError && err.retryAfterMs !== undefined) delayMs = err.retryAfterMs;
          if (pending) safeEmit(this.#sink, 'auth:pending', { retryInMs: delayMs });
          else {
            safeEmit(this.#sink, 'agent:error', { during: 'poll', error: err });
            this.#sink.logger.warn('otakit device: poll failed', { error: errorMessage(err) });
          }
          await this.#wait(delayMs, pending ? 'device pending' : 'error backoff', signal);
        }
      }
    } catch (err) {
      if (!signal?.aborted) throw err;
    }
  }

  /** Sleeps `delayMs` unless a check was requested; a {@link checkNow} wakes it early. */
  async #wait(delayMs: number, reason: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.#checkRequested) return;
    safeEmit(this.#sink, 'agent:wait', { reason, delayMs });
    const wake = this.#wake.signal;
    try {
      await sleep(delayMs, signal ? AbortSignal.any([signal, wake]) : wake);
    } catch (err) {
      if (signal?.aborted || !wake.aborted) throw err;
      this.#wake = new AbortController(); // woken by checkNow()
    }
  }
}
