/**
 * Gated rollouts as the page shows them, read from the rollout state files that
 * `@otakit/management-client`'s `rollout()` persists (version 1). Gate decisions (`phases[i].gates`,
 * written by health-gated rollouts) are passed through with the numbers behind them when present.
 */

import { basename } from 'node:path';
import { readJsonFile } from '@otakit/core';

/**
 * One gate decision of a phase, as `rollout()` persists it (management-client's `GateDecision`):
 * `{ gate: 'cpu_temp:p95:+10%', verdict: 'pass' | 'regression' | 'insufficient-data', reason,
 * updated: { value, samples }, baseline?: { value, samples }, limit?, window: { from, to }, at }`.
 * Passed through as persisted, so fields added later reach the page too.
 */
export type GateDecisionView = Record<string, unknown>;

/** The fleet rollback after a regression: one deployment per previous release. */
export interface RollbackView {
  status: string;
  deployments: { artifactName: string; devices: number; deploymentId: string | null }[];
  /** Devices not rolled back (their previous release was unknown). */
  skipped: number;
}

/** One phase of a rollout. */
export interface RolloutPhaseView {
  index: number;
  status: string;
  /** How many devices the phase (cohort) targets. */
  devices: number;
  deploymentId: string | null;
  startedAt: string | null;
  soakUntil: string | null;
  finishedAt: string | null;
  reason: string | null;
  /** The gate decisions of this phase, when the rollout is gated. */
  gates: GateDecisionView[];
}

/** A rollout read from its state file. */
export interface RolloutView {
  /** The state file's name (not its path). */
  file: string;
  id: string;
  name: string;
  artifactName: string;
  status: string;
  reason: string | null;
  currentPhase: number;
  updatedAt: string | null;
  phases: RolloutPhaseView[];
  /** The fleet rollback, when the rollout asked for one and a gate found a regression. */
  rollback: RollbackView | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function rollbackOf(value: unknown): RollbackView | null {
  if (value === null || typeof value !== 'object') return null;
  const r = value as Record<string, unknown>;
  const deployments = Array.isArray(r.deployments) ? (r.deployments as Record<string, unknown>[]) : [];
  return {
    status: str(r.status) ?? '',
    deployments: deployments.map((d) => ({
      artifactName: str(d.artifactName) ?? '',
      devices: Array.isArray(d.devices) ? d.devices.length : 0,
      deploymentId: str(d.deploymentId),
    })),
    skipped: Array.isArray(r.skipped) ? r.skipped.length : 0,
  };
}

/** Turns one parsed state file into a {@link RolloutView}; throws a TypeError when it is not one. */
export function rolloutViewOf(file: string, state: unknown): RolloutView {
  const s = state as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object' || s.version !== 1 || !Array.isArray(s.phases)) {
    throw new TypeError(`${basename(file)} is not an otakit rollout state file`);
  }
  return {
    file: basename(file),
    id: str(s.id) ?? '',
    name: str(s.name) ?? '',
    artifactName: str(s.artifactName) ?? '',
    status: str(s.status) ?? '',
    reason: str(s.reason),
    currentPhase: typeof s.currentPhase === 'number' ? s.currentPhase : 0,
    updatedAt: str(s.updatedAt),
    phases: (s.phases as Record<string, unknown>[]).map((p, i) => ({
      index: typeof p.index === 'number' ? p.index : i,
      status: str(p.status) ?? '',
      devices: Array.isArray(p.devices) ? p.devices.length : 0,
      deploymentId: str(p.deploymentId),
      startedAt: str(p.startedAt),
      soakUntil: str(p.soakUntil),
      finishedAt: str(p.finishedAt),
      reason: str(p.reason),
      gates: Array.isArray(p.gates)
        ? (p.gates as unknown[]).filter((g): g is GateDecisionView => g !== null && typeof g === 'object')
        : [],
    })),
    rollback: rollbackOf(s.rollback),
  };
}

/** Reads every state file that exists (a missing file is a rollout not started yet: skipped). */
export async function readRollouts(files: readonly string[]): Promise<RolloutView[]> {
  const out: RolloutView[] = [];
  for (const file of files) {
    const state = await readJsonFile<unknown>(file);
    if (state !== undefined) out.push(rolloutViewOf(file, state));
  }
  return out;
}
