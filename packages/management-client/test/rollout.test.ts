import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Deployment, DeploymentStatistics } from '../src/index.js';
import { planPhases, Rollout, readRolloutState } from '../src/index.js';
import type { RolloutApi } from '../src/rollout/options.js';

/** An in-memory deployments service whose devices finish as the test's `outcome` says. */
class FakeFleet implements RolloutApi {
  readonly created: Array<{ id: string; devices: string[] }> = [];
  readonly aborted: string[] = [];
  /** How each device ends its deployment. */
  outcome: (device: string) => 'success' | 'failure' | 'silent' = () => 'success';
  #polls = new Map<string, number>();

  async createDeployment(input: { devices?: string[] }): Promise<string> {
    const id = `dep-${this.created.length + 1}`;
    this.created.push({ id, devices: input.devices ?? [] });
    return id;
  }
  /** Each poll one more device reports its outcome. */
  #stats(id: string): { stats: DeploymentStatistics; finished: boolean } {
    const dep = this.created.find((d) => d.id === id);
    if (dep === undefined) throw new Error(`no ${id}`);
    const polls = this.#polls.get(id) ?? 0;
    const stats = { success: 0, failure: 0, pending: 0, aborted: 0 } as unknown as Record<string, number>;
    dep.devices.forEach((device, i) => {
      const o = this.outcome(device);
      if (this.aborted.includes(id) && (i >= polls || o === 'silent'))
        stats.aborted = (stats.aborted ?? 0) + 1;
      else if (i < polls && o !== 'silent') stats[o] = (stats[o] ?? 0) + 1;
      else stats.pending = (stats.pending ?? 0) + 1;
    });
    return {
      stats: stats as unknown as DeploymentStatistics,
      finished: stats.pending === 0,
    };
  }
  async getDeployment(id: string): Promise<Deployment> {
    const { finished } = this.#stats(id);
    return { id, status: finished ? 'finished' : 'inprogress' } as Deployment;
  }
  async statistics(id: string): Promise<DeploymentStatistics> {
    const s = this.#stats(id).stats;
    this.#polls.set(id, (this.#polls.get(id) ?? 0) + 1);
    return s;
  }
  async abortDeployment(id: string): Promise<void> {
    this.aborted.push(id);
  }
  groupDevices(): never {
    throw new Error('not used');
  }
}

const devices = Array.from({ length: 20 }, (_, i) => `dev-${i}`);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-rollout-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('planPhases', () => {
  it('splits devices by percent and count, the last phase taking the rest', () => {
    const plan = planPhases([{ percent: 10 }, { count: 5 }, {}], devices);
    expect(plan.map((p) => p.length)).toEqual([2, 5, 13]);
    expect(plan.flat()).toEqual(devices);
  });
});

describe('rollout', () => {
  it('runs one deployment per phase and succeeds when devices are healthy', async () => {
    const fleet = new FakeFleet();
    const rollout = new Rollout(fleet, {
      artifactName: 'app-2',
      devices,
      phases: [{ percent: 10 }, { percent: 40 }, {}],
      abortWhen: { failureRate: 0.2, minFinished: 2 },
      pollInterval: 1,
    });
    const started: number[] = [];
    rollout.on('phase:start', (e) => started.push(e.phase));
    const result = await rollout;
    expect(result.status).toBe('succeeded');
    expect(started).toEqual([0, 1, 2]);
    expect(fleet.created.map((d) => d.devices.length)).toEqual([2, 8, 10]);
    expect(fleet.aborted).toEqual([]);
  });

  it('aborts the current phase and stops when the failure rate crosses the threshold', async () => {
    const fleet = new FakeFleet();
    fleet.outcome = (d) => (Number(d.split('-')[1]) % 2 === 0 ? 'failure' : 'success');
    const rollout = new Rollout(fleet, {
      artifactName: 'app-2',
      devices,
      phases: [{ count: 10 }, {}],
      abortWhen: { failureRate: 0.3, minFinished: 4 },
      pollInterval: 1,
    });
    const aborts: Array<{ reason: string; failureRate: number }> = [];
    rollout.on('phase:abort', (e) => aborts.push(e));
    const result = await rollout;
    expect(result).toMatchObject({ status: 'aborted', reason: 'failure-rate' });
    expect(fleet.created).toHaveLength(1);
    expect(fleet.aborted).toEqual(['dep-1']);
    expect(aborts[0]?.failureRate).toBeGreaterThan(0.3);
  });

  it('aborts when devices go silent', async () => {
    const fleet = new FakeFleet();
    fleet.outcome = (d) => (d === 'dev-1' ? 'silent' : 'success');
    const result = await new Rollout(fleet, {
      artifactName: 'app-2',
      devices: devices.slice(0, 4),
      phases: [{}],
      silentAfter: 30,
      pollInterval: 5,
    });
    expect(result).toMatchObject({ status: 'aborted', reason: 'silent' });
    expect(fleet.aborted).toEqual(['dep-1']);
  });

  it('persists its state and resumes the running phase after a restart', async () => {
    const stateFile = join(dir, 'rollout.json');
    const fleet = new FakeFleet();
    const controller = new AbortController();
    const first = new Rollout(fleet, {
      artifactName: 'app-2',
      devices,
      phases: [{ count: 5 }, {}],
      pollInterval: 1,
      stateFile,
      signal: controller.signal,
    });
    first.on('phase:start', (e) => {
      if (e.phase === 1) controller.abort(new Error('restart'));
    });
    await expect(first).rejects.toThrow('restart');
    const saved = await readRolloutState(stateFile);
    expect(saved?.currentPhase).toBe(1);
    expect(saved?.phases[1]?.deploymentId).toBe('dep-2');
    expect(JSON.parse(await readFile(stateFile, 'utf8')).status).toBe('running');

    const second = new Rollout(fleet, {
      artifactName: 'app-2',
      devices,
      phases: [{ count: 5 }, {}],
      pollInterval: 1,
      stateFile,
    });
    const resumed: boolean[] = [];
    second.on('phase:start', (e) => resumed.push(e.resumed));
    const result = await second;
    expect(result.status).toBe('succeeded');
    expect(resumed).toEqual([true]);
    expect(fleet.created).toHaveLength(2); // the running deployment was watched, not created again
    expect((await readRolloutState(stateFile))?.status).toBe('succeeded');
  });

  it('refuses options without devices or group', () => {
    expect(() => new Rollout(new FakeFleet(), { artifactName: 'a', phases: [{}] })).toThrow(/devices, group/);
  });
});
