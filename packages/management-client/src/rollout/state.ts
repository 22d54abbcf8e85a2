import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import type { DeploymentStatistics } from '../types.js';
import type { GateDecision } from './gates.js';
import { now } from './time.js';

/** Where one phase of a rollout stands. */
export type PhaseStatus = 'pending' | 'running' | 'soaking' | 'succeeded' | 'aborted';

/** Why a rollout stopped early. */
export type RolloutAbortReason =
  | 'failure-rate'
  | 'silent'
  | 'deployment-aborted'
  /** A release health gate found the updated cohort's telemetry worse than allowed. */
  | 'regression'
  /** The gates never had enough samples before `gateTimeout`. */
  | 'insufficient-data';

/** The persisted state of one phase. */
export interface PhaseState {
  index: number;
  status: PhaseStatus;
  /** The devices of this phase. */
  devices: string[];
  deploymentId?: string;
  startedAt?: string;
  /** When the soak after this phase ends (ISO time). */
  soakUntil?: string;
  finishedAt?: string;
  statistics?: DeploymentStatistics;
  reason?: RolloutAbortReason;
  /** The latest decisions of the release health gates on this phase, with their numbers. */
  gates?: GateDecision[];
}

/** One deployment of a fleet rollback: the devices that ran `artifactName` before the rollout. */
export interface RollbackDeployment {
  artifactName: string;
  devices: string[];
  deploymentId?: string;
  statistics?: DeploymentStatistics;
}

/** The rollback of the devices that took a regressing release. */
export interface RollbackState {
  status: 'running' | 'succeeded' | 'failed';
  deployments: RollbackDeployment[];
  /** Devices that took the release but whose previous release is unknown: not rolled back. */
  skipped: string[];
}

/** The persisted state of a rollout: enough to resume it after a restart. */
export interface RolloutState {
  version: 1;
  id: string;
  name: string;
  artifactName: string;
  status: 'running' | 'succeeded' | 'aborted';
  reason?: RolloutAbortReason;
  /** The phase being run (or the last one run). */
  currentPhase: number;
  phases: PhaseState[];
  /** The release each device ran when the rollout started (recorded for a rollback). */
  previousReleases?: Record<string, string>;
  /** The fleet rollback after a regression, when one was asked for. */
  rollback?: RollbackState;
  createdAt: string;
  updatedAt: string;
}

/**
 * Stops a rollout at `phase` for `reason`: the phase and the rollout become `aborted`, the phase
 * finishes now. (The caller persists the state.)
 * @internal
 */
export function abortAt(state: RolloutState, phase: PhaseState, reason: RolloutAbortReason): void {
  phase.status = 'aborted';
  phase.reason = reason;
  phase.finishedAt = now();
  state.status = 'aborted';
  state.reason = reason;
}

/** Reads a rollout state file; `undefined` when it does not exist. */
export async function readRolloutState(path: string): Promise<RolloutState | undefined> {
  const state = await readJsonFile<RolloutState>(path);
  if (state === undefined) return undefined;
  if (state.version !== 1 || !Array.isArray(state.phases)) {
    throw new TypeError(`${path} is not an otakit rollout state file`);
  }
  return state;
}

/**
 * Writes a rollout state file atomically and durably, mode 0600 (a temp file beside it, fsynced,
 * renamed over it, the directory fsynced): a crash or power cut leaves the old state or the new one,
 * never a torn or empty file.
 */
export async function writeRolloutState(path: string, state: RolloutState): Promise<void> {
  await writeJsonFileAtomic(path, state, { mode: 0o600 });
}
