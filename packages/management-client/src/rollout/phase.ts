import { sleep } from '@otakit/core';
import { finishedCount } from '../deployment-poller.js';
import type { RolloutContext } from './options.js';
import { abortAt, type PhaseState, type RolloutAbortReason } from './state.js';
import { now } from './time.js';

/**
 * Runs one phase: creates its deployment (unless a resumed state already has it), then polls the
 * deployment and its statistics until it finishes (the phase succeeds), or the failure rate crosses
 * `abortWhen.failureRate`, the deployment was aborted, or the counts stood still for `silentAfter`
 * (the deployment is aborted, and the phase and the rollout with it).
 * @internal
 */
export async function runPhase(ctx: RolloutContext, phase: PhaseState, resumed: boolean): Promise<void> {
  const { api, opts, state, call } = ctx;
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
    await ctx.save();
  }
  const deploymentId = phase.deploymentId;
  ctx.emit('phase:start', { phase: phase.index, deploymentId, devices: phase.devices.length, resumed });
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
      ctx.emit('phase:statistics', {
        phase: phase.index,
        deploymentId,
        statistics,
        finished,
        failureRate,
      });
    }
    let reason: RolloutAbortReason | undefined;
    if (opts.abortWhen !== undefined && finished >= minFinished && failureRate > opts.abortWhen.failureRate) {
      reason = 'failure-rate';
    } else if (deployment.status === 'finished') {
      if ((statistics.aborted ?? 0) > 0 && finished === (statistics.aborted ?? 0))
        reason = 'deployment-aborted';
      else {
        phase.status = 'succeeded';
        phase.finishedAt = now();
        await ctx.save();
        ctx.emit('phase:complete', { phase: phase.index, deploymentId, statistics });
        return;
      }
    } else if (opts.silentAfter !== undefined && Date.now() - lastChange >= opts.silentAfter) {
      reason = 'silent';
    }
    if (reason !== undefined) {
      if (deployment.status !== 'finished') await api.abortDeployment(deploymentId, call);
      abortAt(state, phase, reason);
      await ctx.save();
      ctx.emit('phase:abort', { phase: phase.index, deploymentId, reason, statistics, failureRate });
      return;
    }
    await sleep(interval, opts.signal);
  }
}
