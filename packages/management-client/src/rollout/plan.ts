import { randomUUID } from 'node:crypto';
import type { PagePromise } from '@otakit/core';
import { validateGate } from './gates.js';
import type { RolloutOptions, RolloutPhase } from './options.js';
import type { RolloutState } from './state.js';
import { now } from './time.js';

/** Refuses options no rollout can run with (a `TypeError` naming the option). @internal */
export function validateRolloutOptions(opts: RolloutOptions): void {
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

/** The state of a rollout that starts now on `devices` (duplicates dropped). @internal */
export function initialState(opts: RolloutOptions, devices: string[]): RolloutState {
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

/** Every item of a paged list. @internal */
export async function collect(list: PagePromise<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const id of list) out.push(id);
  return out;
}
