import { type RequestOptions, sleep } from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import { gatesFor, judgePhase } from './gating.js';
import type { RolloutApi, RolloutContext, RolloutEvents, RolloutOptions, RolloutResult } from './options.js';
import { runPhase } from './phase.js';
import { collect, initialState, validateRolloutOptions } from './plan.js';
import { type RolloutState, readRolloutState, writeRolloutState } from './state.js';
import { now } from './time.js';

/**
 * A health-gated rollout: one deployment per phase on a device list; watches each phase's
 * statistics; aborts the phase and stops when the failure rate crosses `abortWhen.failureRate`
 * or the devices go silent. `await` it for the result; listen to `phase:*` events. With
 * `stateFile`, re-running the same call after a restart resumes where it stopped.
 */
export class Rollout extends EventEmitter<RolloutEvents> implements PromiseLike<RolloutResult> {
  readonly #done: Promise<RolloutResult>;
  #state: RolloutState | undefined;

  /** @internal */
  constructor(api: RolloutApi, opts: RolloutOptions) {
    super();
    validateRolloutOptions(opts);
    this.#done = this.#run(api, opts);
    this.#done.catch(() => {});
  }

  /** The current state (undefined until the rollout has started). */
  get state(): RolloutState | undefined {
    return this.#state;
  }

  async #run(api: RolloutApi, opts: RolloutOptions): Promise<RolloutResult> {
    const call: RequestOptions = { ...opts.requestOptions, ...(opts.signal ? { signal: opts.signal } : {}) };
    let state = opts.stateFile === undefined ? undefined : await readRolloutState(opts.stateFile);
    if (state !== undefined && state.artifactName !== opts.artifactName) {
      throw new TypeError(
        `${opts.stateFile} holds a rollout of ${state.artifactName}, not ${opts.artifactName}`,
      );
    }
    const resumed = state !== undefined;
    if (state === undefined) {
      const devices =
        opts.devices ?? (await collect(api.groupDevices(opts.group as string, { ...call, perPage: 500 })));
      state = initialState(opts, devices);
      if (opts.onRegression === 'abort-and-rollback') {
        if (api.installedArtifacts === undefined)
          throw new TypeError('this client cannot read installed releases');
        state.previousReleases = await api.installedArtifacts(devices, call);
      }
    }
    this.#state = state;
    await this.#save(opts, state);

    while (state.status === 'running') {
      const phase = state.phases[state.currentPhase];
      if (phase === undefined) {
        state.status = 'succeeded';
        await this.#save(opts, state);
        break;
      }
      if (phase.status === 'pending' || phase.status === 'running') {
        if (phase.devices.length === 0) {
          phase.status = 'succeeded';
          phase.finishedAt = now();
        } else {
          await runPhase(this.#context(api, opts, state, call), phase, resumed && phase.status === 'running');
        }
        if (state.status !== 'running') break;
        const soak = opts.phases[phase.index]?.soak ?? 0;
        const judged = gatesFor(opts, state, phase.index).length > 0;
        if (soak > 0 && (judged || state.currentPhase < state.phases.length - 1)) {
          phase.status = 'soaking';
          phase.soakUntil = new Date(Date.now() + soak).toISOString();
          await this.#save(opts, state);
          this.emit('phase:soak', { phase: phase.index, until: phase.soakUntil });
        }
      }
      if (phase.status === 'soaking') {
        const left = Date.parse(phase.soakUntil ?? '') - Date.now();
        if (left > 0) await sleep(left, opts.signal);
        if (gatesFor(opts, state, phase.index).length > 0) {
          await judgePhase(this.#context(api, opts, state, call), phase);
          if (state.status !== 'running') break;
        }
        phase.status = 'succeeded';
      }
      state.currentPhase++;
      await this.#save(opts, state);
    }
    return {
      status: state.status === 'aborted' ? 'aborted' : 'succeeded',
      ...(state.reason === undefined ? {} : { reason: state.reason }),
      state,
    };
  }

  /** What a phase's watch, the gate judging and the rollback need of this rollout. */
  #context(api: RolloutApi, opts: RolloutOptions, state: RolloutState, call: RequestOptions): RolloutContext {
    return {
      api,
      opts,
      state,
      call,
      save: () => this.#save(opts, state),
      emit: (event, payload) => (this.emit as (e: string, p: unknown) => boolean)(event, payload),
    };
  }

  async #save(opts: RolloutOptions, state: RolloutState): Promise<void> {
    state.updatedAt = now();
    if (opts.stateFile !== undefined) await writeRolloutState(opts.stateFile, state);
    this.emit('state', state);
  }

  // biome-ignore lint/suspicious/noThenProperty: a rollout is awaitable by design.
  then<R1 = RolloutResult, R2 = never>(
    onfulfilled?: ((value: RolloutResult) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#done.then(onfulfilled, onrejected);
  }
}
