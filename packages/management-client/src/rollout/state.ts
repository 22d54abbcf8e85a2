import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { DeploymentStatistics } from '../types.js';

/** Where one phase of a rollout stands. */
export type PhaseStatus = 'pending' | 'running' | 'soaking' | 'succeeded' | 'aborted';

/** Why a rollout stopped early. */
export type RolloutAbortReason = 'failure-rate' | 'silent' | 'deployment-aborted';

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
  createdAt: string;
  updatedAt: string;
}

/** Reads a rollout state file; `undefined` when it does not exist. */
export async function readRolloutState(path: string): Promise<RolloutState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as RolloutState;
  if (state.version !== 1 || !Array.isArray(state.phases)) {
    throw new TypeError(`${path} is not an otakit rollout state file`);
  }
  return state;
}

/** Writes a rollout state file atomically (a temp file renamed over it). */
export async function writeRolloutState(path: string, state: RolloutState): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
