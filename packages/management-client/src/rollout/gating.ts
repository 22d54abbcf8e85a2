import { sleep } from '@otakit/core';
import {
  type CohortValue,
  type GateDecision,
  gateLabel,
  judgeGate,
  needsBaseline,
  type ReleaseGate,
  type ReleaseHealthSource,
} from './gates.js';
import type { RolloutContext, RolloutOptions } from './options.js';
import { abortAt, type PhaseState, type RolloutState } from './state.js';
import { now } from './time.js';

/**
 * The gates that apply to a phase: all of them on a phase followed by another (or with a control
 * group); on the last phase without one, only those that need no baseline.
 */
export function gatesFor(opts: RolloutOptions, state: RolloutState, index: number): ReleaseGate[] {
  const gates = opts.gates ?? [];
  if (gates.length === 0 || opts.health === undefined) return [];
  const last = index >= state.phases.length - 1;
  if (!last || opts.baselineDevices !== undefined) return gates;
  return gates.filter((g) => !needsBaseline(g));
}

/**
 * Judges the gates on a phase over `[finishedAt, soakUntil]`, extended to now while a gate lacks
 * samples, until `gateTimeout` past the soak. A resumed rollout judges the same window again.
 */
export async function judgePhase(ctx: RolloutContext, phase: PhaseState): Promise<void> {
  const { opts, state, call } = ctx;
  const health = opts.health as ReleaseHealthSource;
  const gates = gatesFor(opts, state, phase.index);
  const updatedDevices = state.phases.slice(0, phase.index + 1).flatMap((p) => p.devices);
  const baselineDevices =
    opts.baselineDevices ?? state.phases.slice(phase.index + 1).flatMap((p) => p.devices);
  const from = new Date(phase.finishedAt ?? phase.startedAt ?? state.createdAt);
  const soakEnd = Date.parse(phase.soakUntil ?? '') || Date.now();
  const deadline = soakEnd + (opts.gateTimeout ?? 300_000);
  for (;;) {
    const to = new Date(Math.max(soakEnd, Math.min(Date.now(), deadline)));
    const decisions: GateDecision[] = [];
    for (const gate of gates) {
      const query = { metric: gate.metric, stat: gate.stat, from, to };
      const updated = await health.aggregate({ ...query, devices: updatedDevices }, call);
      let baseline: CohortValue | undefined;
      if (needsBaseline(gate) && baselineDevices.length > 0) {
        baseline = await health.aggregate({ ...query, devices: baselineDevices }, call);
      }
      decisions.push({
        gate: gateLabel(gate),
        ...judgeGate(gate, updated, baseline),
        updated,
        ...(baseline === undefined ? {} : { baseline }),
        window: { from: from.toISOString(), to: to.toISOString() },
        at: now(),
      });
    }
    const verdict = decisions.some((d) => d.verdict === 'regression')
      ? 'regression'
      : decisions.some((d) => d.verdict === 'insufficient-data')
        ? 'insufficient-data'
        : 'pass';
    phase.gates = decisions;
    await ctx.save();
    ctx.emit('gate:decision', { phase: phase.index, verdict, decisions });
    if (verdict === 'pass') return;
    if (verdict === 'insufficient-data' && Date.now() < deadline) {
      await sleep(Math.min(opts.pollInterval ?? 2_000, Math.max(1, deadline - Date.now())), opts.signal);
      continue;
    }
    abortAt(state, phase, verdict);
    await ctx.save();
    if (verdict === 'regression' && opts.onRegression === 'abort-and-rollback') {
      await rollback(ctx);
    }
    return;
  }
}

/** Deploys each device that took the release the release it ran before, and waits for it. */
async function rollback(ctx: RolloutContext): Promise<void> {
  const { api, opts, state, call } = ctx;
  if (api.deviceStatuses === undefined) throw new TypeError('this client cannot list deployment devices');
  let rollback = state.rollback;
  if (rollback === undefined) {
    const took: string[] = [];
    for (const p of state.phases) {
      if (p.deploymentId === undefined) continue;
      for (const d of await api.deviceStatuses(p.deploymentId, call))
        if (d.status === 'success') took.push(d.id);
    }
    const byRelease = new Map<string, string[]>();
    const skipped: string[] = [];
    for (const id of took) {
      const previous = state.previousReleases?.[id];
      if (previous === undefined || previous === state.artifactName) skipped.push(id);
      else byRelease.set(previous, [...(byRelease.get(previous) ?? []), id]);
    }
    rollback = {
      status: 'running',
      deployments: [...byRelease].map(([artifactName, devices]) => ({ artifactName, devices })),
      skipped,
    };
    state.rollback = rollback;
    await ctx.save();
  }
  for (const d of rollback.deployments) {
    if (d.deploymentId !== undefined) continue;
    d.deploymentId = await api.createDeployment(
      {
        name: `${state.name} rollback to ${d.artifactName}`,
        artifactName: d.artifactName,
        devices: d.devices,
      },
      call,
    );
    await ctx.save();
  }
  ctx.emit('rollback:start', {
    deployments: rollback.deployments.map((d) => ({
      artifactName: d.artifactName,
      deploymentId: d.deploymentId as string,
      devices: d.devices.length,
    })),
  });
  for (const d of rollback.deployments) {
    for (;;) {
      const [deployment, statistics] = await Promise.all([
        api.getDeployment(d.deploymentId as string, call),
        api.statistics(d.deploymentId as string, call),
      ]);
      d.statistics = statistics;
      if (deployment.status === 'finished') break;
      await sleep(opts.pollInterval ?? 2_000, opts.signal);
    }
  }
  const allBack = rollback.deployments.every((d) => (d.statistics?.success ?? 0) === d.devices.length);
  rollback.status = allBack ? 'succeeded' : 'failed';
  await ctx.save();
  ctx.emit('rollback:complete', { status: rollback.status, state: rollback });
}
