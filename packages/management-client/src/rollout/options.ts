import type { PagePromise, RequestOptions } from '@otakit/core';
import type { CreateDeploymentInput } from '../resources/deployments.js';
import type { ListOptions } from '../transport.js';
import type { Deployment, DeploymentStatistics } from '../types.js';
import type { GateDecision, ReleaseGate, ReleaseHealthSource } from './gates.js';
import type { RollbackState, RolloutAbortReason, RolloutState } from './state.js';

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

/** What a phase's watch, its gate judging and the rollback need of the rollout that runs them. @internal */
export interface RolloutContext {
  api: RolloutApi;
  opts: RolloutOptions;
  state: RolloutState;
  call: RequestOptions;
  /** Persists the state (and emits `state`). */
  save(): Promise<void>;
  emit<E extends keyof RolloutEvents>(event: E, payload: Parameters<RolloutEvents[E]>[0]): void;
}
