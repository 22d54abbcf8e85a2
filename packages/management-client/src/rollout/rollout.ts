import { randomUUID } from 'node:crypto';
import { type PagePromise, type RequestOptions, sleep } from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import { finishedCount } from '../deployment-poller.js';
import type { CreateDeploymentInput } from '../resources/deployments.js';
import type { ListOptions } from '../transport.js';
import type { Deployment, DeploymentStatistics } from '../types.js';
import type { GateDecision, ReleaseGate, ReleaseHealthSource } from './gates.js';
import { validateGate } from './gates.js';
import { type GatingContext, gatesFor, judgePhase } from './gating.js';
import {
  type PhaseState,
  type RollbackState,
  type RolloutAbortReason,
  type RolloutState,
  readRolloutState,
  writeRolloutState,
} from './state.js';
import { now } from './time.js';

/** One phase: a share of the devices (`percent` of all, or `count`), then a soak time. */
export interface RolloutPhase {
  /** Percent of all the rollout's devices this phase deploys to (rounded up). */
  percent?: number;
  /** Number of devices this phase deploys to. Without `percent` and `count`: all remaining devices. */
  count?: number;
  /** How long to wait after the phase finished before the next one starts, in ms. Default 0. */
  soak?: number;
}

/** The health gate of a rollout. */
export interface AbortCondition {
  /** Abort when `failure / finished` of the current phase exceeds this (0..1). */
  failureRate: number;
  /** Only judge once this many devices of the phase have finished. Default 1. */
  minFinished?: number;
}

/** Options of {@link ManagementClient.rollout}. */
export interface RolloutOptions {
  /** The artifact name (release) to roll out. */
  artifactName: string;
  /** Name prefix of the deployments (`<name> phase 1/3`). Default `rollout <artifactName>`. */
  name?: string;
  /** The devices, in the order phases take them. */
  devices?: string[];
  /** Or: the devices of this static group (read when the rollout starts). */
  group?: string;
  phases: RolloutPhase[];
  abortWhen?: AbortCondition;
  /**
   * Abort a phase when its deployment's counts have not changed for this many ms while devices are
   * still unfinished (devices went silent). Default: never.
   */
  silentAfter?: number;
  /** Poll interval in ms while a phase runs. Default 2 000. */
  pollInterval?: number;
  /** Persist the state to this JSON file after every step, and resume from it when it exists. */
  stateFile?: string;
  /**
   * Release health gates, judged on each phase over its soak window (which then must be > 0): the
   * devices updated so far against the baseline cohort. Needs `health`.
   */
  gates?: ReleaseGate[];
  /** Where the gates read telemetry (Mender device ids in, a statistic and its sample count out). */
  health?: ReleaseHealthSource;
  /**
   * The baseline cohort the gates compare with: by default the rollout's devices not updated yet;
   * or these devices (a control group that does not take the release).
   */
  baselineDevices?: string[];
  /**
   * What a regression does: `'abort'` (default) stops the rollout; `'abort-and-rollback'` also
   * deploys to every device that took the new release the release it ran when the rollout started,
   * and waits for it.
   */
  onRegression?: 'abort' | 'abort-and-rollback';
  /**
   * How long a phase is held past its soak while a gate lacks samples, in ms; then the rollout stops
   * with `insufficient-data` (never passes). Default 300 000.
   */
  gateTimeout?: number;
  /** Stops watching (the current deployment keeps running; resume later from `stateFile`). */
  signal?: AbortSignal;
  /** Forwarded to the management calls. */
  requestOptions?: Omit<RequestOptions, 'signal'>;
}

/** What a rollout needs from the client. @internal */
export interface RolloutApi {
  createDeployment(input: CreateDeploymentInput, opts?: RequestOptions): Promise<string>;
  getDeployment(id: string, opts?: RequestOptions): Promise<Deployment>;
  statistics(id: string, opts?: RequestOptions): Promise<DeploymentStatistics>;
  abortDeployment(id: string, opts?: RequestOptions): Promise<void>;
  groupDevices(group: string, opts?: ListOptions): PagePromise<string>;
  /** Per-device statuses of a deployment (for the rollback). */
  deviceStatuses?(id: string, opts?: RequestOptions): Promise<Array<{ id: string; status?: string }>>;
  /** The `artifact_name` each device reports in its inventory (for the rollback). */
  installedArtifacts?(devices: readonly string[], opts?: RequestOptions): Promise<Record<string, string>>;
}

/** Events of a {@link Rollout}. */
export interface RolloutEvents {
  'phase:start': (e: { phase: number; deploymentId: string; devices: number; resumed: boolean }) => void;
  'phase:statistics': (e: {
    phase: number;
    deploymentId: string;
    statistics: DeploymentStatistics;
    finished: number;
    failureRate: number;
  }) => void;
  'phase:soak': (e: { phase: number; until: string }) => void;
  'phase:complete': (e: { phase: number; deploymentId: string; statistics: DeploymentStatistics }) => void;
  'phase:abort': (e: {
    phase: number;
    deploymentId: string;
    reason: RolloutAbortReason;
    statistics: DeploymentStatistics;
    failureRate: number;
  }) => void;
  /** The release health gates judged a phase: every decision with its numbers. */
  'gate:decision': (e: {
    phase: number;
    verdict: GateDecision['verdict'];
    decisions: GateDecision[];
  }) => void;
  /** A fleet rollback started (one deployment per previous release). */
  'rollback:start': (e: {
    deployments: Array<{ artifactName: string; deploymentId: string; devices: number }>;
  }) => void;
  /** The fleet rollback ended. */
  'rollback:complete': (e: { status: RollbackState['status']; state: RollbackState }) => void;
  /** After every change of the state (and after it was persisted, with `stateFile`). */
  state: (state: RolloutState) => void;
}

/** The end of a rollout. */
export interface RolloutResult {
  status: 'succeeded' | 'aborted';
  reason?: RolloutAbortReason;
  state: RolloutState;
}

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
    validate(opts);
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
          await this.#runPhase(api, opts, state, phase, call, resumed && phase.status === 'running');
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
          await judgePhase(this.#gating(api, opts, state, call), phase);
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

  async #runPhase(
    api: RolloutApi,
    opts: RolloutOptions,
    state: RolloutState,
    phase: PhaseState,
    call: RequestOptions,
    resumed: boolean,
  ): Promise<void> {
    if (phase.deploymentId === undefined) {
      phase.deploymentId = await api.createDeployment(
        {
          name: `${state.name} phase ${phase.index + 1}/${state.phases.length}`,
          artifactName: state.artifactName,
          devices: phase.devices,
        },
        call,
      );
      phase.status = 'running';
      phase.startedAt = now();
      await this.#save(opts, state);
    }
    const deploymentId = phase.deploymentId;
    this.emit('phase:start', { phase: phase.index, deploymentId, devices: phase.devices.length, resumed });
    const interval = opts.pollInterval ?? 2_000;
    const minFinished = Math.max(1, opts.abortWhen?.minFinished ?? 1);
    let lastKey = '';
    let lastChange = Date.now();
    for (;;) {
      const [deployment, statistics] = await Promise.all([
        api.getDeployment(deploymentId, call),
        api.statistics(deploymentId, call),
      ]);
      const finished = finishedCount(statistics);
      const failureRate = finished === 0 ? 0 : (statistics.failure ?? 0) / finished;
      const key = JSON.stringify(statistics);
      if (key !== lastKey) {
        lastKey = key;
        lastChange = Date.now();
        phase.statistics = statistics;
        this.emit('phase:statistics', {
          phase: phase.index,
          deploymentId,
          statistics,
          finished,
          failureRate,
        });
      }
      let reason: RolloutAbortReason | undefined;
      if (
        opts.abortWhen !== undefined &&
        finished >= minFinished &&
        failureRate > opts.abortWhen.failureRate
      ) {
        reason = 'failure-rate';
      } else if (deployment.status === 'finished') {
        if ((statistics.aborted ?? 0) > 0 && finished === (statistics.aborted ?? 0))
          reason = 'deployment-aborted';
        else {
          phase.status = 'succeeded';
          phase.finishedAt = now();
          await this.#save(opts, state);
          this.emit('phase:complete', { phase: phase.index, deploymentId, statistics });
          return;
        }
      } else if (opts.silentAfter !== undefined && Date.now() - lastChange >= opts.silentAfter) {
        reason = 'silent';
      }
      if (reason !== undefined) {
        if (deployment.status !== 'finished') await api.abortDeployment(deploymentId, call);
        phase.status = 'aborted';
        phase.reason = reason;
        phase.finishedAt = now();
        state.status = 'aborted';
        state.reason = reason;
        await this.#save(opts, state);
        this.emit('phase:abort', { phase: phase.index, deploymentId, reason, statistics, failureRate });
        return;
      }
      await sleep(interval, opts.signal);
    }
  }

  /** What the gate judging and the rollback need of this rollout. */
  #gating(api: RolloutApi, opts: RolloutOptions, state: RolloutState, call: RequestOptions): GatingContext {
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

function validate(opts: RolloutOptions): void {
  if ((opts.devices === undefined) === (opts.group === undefined)) {
    throw new TypeError('a rollout needs exactly one of: devices, group');
  }
  if (opts.phases.length === 0) throw new TypeError('a rollout needs at least one phase');
  for (const p of opts.phases) {
    if (p.percent !== undefined && (p.percent <= 0 || p.percent > 100)) {
      throw new TypeError(`phase percent must be in (0, 100], got ${p.percent}`);
    }
    if (p.count !== undefined && (!Number.isInteger(p.count) || p.count <= 0)) {
      throw new TypeError(`phase count must be a positive integer, got ${p.count}`);
    }
  }
  if (opts.gates !== undefined && opts.gates.length > 0) {
    if (opts.health === undefined) throw new TypeError('gates need a health source (options.health)');
    for (const g of opts.gates) validateGate(g);
    const judged = opts.phases.slice(0, opts.baselineDevices === undefined ? -1 : undefined);
    for (const [i, p] of judged.entries()) {
      if (!(p.soak !== undefined && p.soak > 0)) {
        throw new TypeError(`phase ${i + 1} is judged by gates and needs a soak window (soak > 0)`);
      }
    }
  }
  if (opts.onRegression !== undefined && !['abort', 'abort-and-rollback'].includes(opts.onRegression)) {
    throw new TypeError(`onRegression must be 'abort' or 'abort-and-rollback'`);
  }
  const rate = opts.abortWhen?.failureRate;
  if (rate !== undefined && (rate < 0 || rate > 1))
    throw new TypeError('abortWhen.failureRate must be in [0, 1]');
}

/** Splits the devices over the phases, in order; the last phase takes whatever remains. */
export function planPhases(phases: RolloutPhase[], devices: string[]): string[][] {
  const plan: string[][] = [];
  let next = 0;
  phases.forEach((p, i) => {
    const last = i === phases.length - 1;
    let size: number;
    if (last) size = devices.length - next;
    else if (p.count !== undefined) size = p.count;
    else if (p.percent !== undefined) size = Math.ceil((devices.length * p.percent) / 100);
    else size = devices.length - next;
    const slice = devices.slice(next, Math.min(devices.length, next + size));
    next += slice.length;
    plan.push(slice);
  });
  return plan;
}

function initialState(opts: RolloutOptions, devices: string[]): RolloutState {
  const created = now();
  return {
    version: 1,
    id: randomUUID(),
    name: opts.name ?? `rollout ${opts.artifactName}`,
    artifactName: opts.artifactName,
    status: 'running',
    currentPhase: 0,
    phases: planPhases(opts.phases, [...new Set(devices)]).map((slice, index) => ({
      index,
      status: 'pending',
      devices: slice,
    })),
    createdAt: created,
    updatedAt: created,
  };
}

async function collect(list: PagePromise<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const id of list) out.push(id);
  return out;
}
