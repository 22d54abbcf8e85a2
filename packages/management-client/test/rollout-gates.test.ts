import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CohortQuery,
  type CohortValue,
  type Deployment,
  type DeploymentStatistics,
  type GateDecision,
  judgeGate,
  parseGate,
  type ReleaseHealthSource,
  Rollout,
  readRolloutState,
} from '../src/index.js';
import type { RolloutApi } from '../src/rollout/options.js';

/**
 * An in-memory fleet: a deployment finishes at once, every device takes the release it is sent;
 * each device "publishes" `samplesPerDevice` samples whose value depends on the release it runs.
 */
class Fleet implements RolloutApi, ReleaseHealthSource {
  readonly releases = new Map<string, string>();
  readonly created: Array<{ id: string; name: string; artifactName: string; devices: string[] }> = [];
  readonly queries: CohortQuery[] = [];
  samplesPerDevice = 20;
  /** The metric's value on each release. */
  valueOf: (release: string) => number = () => 50;

  constructor(devices: string[], release: string) {
    for (const d of devices) this.releases.set(d, release);
  }
  async createDeployment(input: { name: string; artifactName: string; devices?: string[] }): Promise<string> {
    const id = `dep-${this.created.length + 1}`;
    this.created.push({
      id,
      name: input.name,
      artifactName: input.artifactName,
      devices: input.devices ?? [],
    });
    for (const d of input.devices ?? []) this.releases.set(d, input.artifactName);
    return id;
  }
  async getDeployment(id: string): Promise<Deployment> {
    return { id, status: 'finished' } as Deployment;
  }
  async statistics(id: string): Promise<DeploymentStatistics> {
    const dep = this.created.find((d) => d.id === id);
    return { success: dep?.devices.length ?? 0, failure: 0, pending: 0 } as unknown as DeploymentStatistics;
  }
  async abortDeployment(): Promise<void> {}
  groupDevices(): never {
    throw new Error('not used');
  }
  async deviceStatuses(id: string) {
    const dep = this.created.find((d) => d.id === id);
    return (dep?.devices ?? []).map((d) => ({ id: d, status: 'success' }));
  }
  async installedArtifacts(devices: readonly string[]) {
    return Object.fromEntries(devices.map((d) => [d, this.releases.get(d) as string]));
  }
  async aggregate(q: CohortQuery): Promise<CohortValue> {
    this.queries.push(q);
    const values: number[] = [];
    for (const d of q.devices) {
      for (let i = 0; i < this.samplesPerDevice; i++)
        values.push(this.valueOf(this.releases.get(d) as string) + (i % 5) * 0.1);
    }
    if (values.length === 0) return { value: undefined, samples: 0 };
    values.sort((a, b) => a - b);
    const value =
      q.stat === 'mean'
        ? values.reduce((a, b) => a + b, 0) / values.length
        : q.stat === 'max'
          ? (values.at(-1) as number)
          : q.stat === 'rate'
            ? values.filter((v) => v > 0).length / values.length
            : (values[Math.ceil(0.95 * values.length) - 1] as number);
    return { value, samples: values.length };
  }
}

const devices = Array.from({ length: 10 }, (_, i) => `dev-${i}`);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-gates-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const phases = [{ count: 2, soak: 30 }, { percent: 50, soak: 30 }, {}];

describe('parseGate and judgeGate', () => {
  it('parses the CLI forms', () => {
    expect(parseGate('cpu_temp:p95:+10%')).toEqual({ metric: 'cpu_temp', stat: 'p95', maxIncrease: '10%' });
    expect(parseGate('cpu_temp:mean:+2.5')).toEqual({ metric: 'cpu_temp', stat: 'mean', maxIncrease: 2.5 });
    expect(parseGate('errors:rate:<0.01@50')).toEqual({
      metric: 'errors',
      stat: 'rate',
      max: 0.01,
      minSamples: 50,
    });
    for (const bad of ['cpu_temp', 'cpu_temp:median:+1', 'cpu_temp:p95:10%', 'x:p95:+a%']) {
      expect(() => parseGate(bad)).toThrow(TypeError);
    }
  });

  it('holds the updated cohort to the baseline plus the allowed increase, and to max', () => {
    const g = { metric: 't', stat: 'p95' as const, maxIncrease: '10%' as const, max: 60, minSamples: 5 };
    expect(judgeGate(g, { value: 54, samples: 10 }, { value: 50, samples: 10 })).toMatchObject({
      verdict: 'pass',
      limit: 55,
    });
    expect(judgeGate(g, { value: 56, samples: 10 }, { value: 50, samples: 10 })).toMatchObject({
      verdict: 'regression',
      limit: 55,
    });
    expect(judgeGate(g, { value: 59, samples: 10 }, { value: 58, samples: 10 })).toMatchObject({
      verdict: 'pass',
      limit: 60,
    });
    expect(judgeGate(g, { value: 61, samples: 10 }, { value: 58, samples: 10 }).verdict).toBe('regression');
    // too few samples on either side never passes
    expect(judgeGate(g, { value: 1, samples: 4 }, { value: 50, samples: 10 }).verdict).toBe(
      'insufficient-data',
    );
    expect(judgeGate(g, { value: 1, samples: 10 }, { value: 50, samples: 4 }).verdict).toBe(
      'insufficient-data',
    );
    expect(judgeGate(g, { value: 1, samples: 10 }, undefined).verdict).toBe('insufficient-data');
    expect(
      judgeGate({ metric: 'e', stat: 'rate', max: 0.01 }, { value: 0.02, samples: 10 }, undefined).verdict,
    ).toBe('regression');
  });
});

describe('rollout with release health gates', () => {
  it('a regressing release aborts at the first phase and the updated devices end on their previous release', async () => {
    const fleet = new Fleet(devices, 'app-1.0');
    fleet.valueOf = (r) => (r === 'app-2.0' ? 70 : 50);
    const stateFile = join(dir, 'state.json');
    const rollout = new Rollout(fleet, {
      artifactName: 'app-2.0',
      devices,
      phases,
      gates: [parseGate('cpu_temp:p95:+10%')],
      health: fleet,
      onRegression: 'abort-and-rollback',
      pollInterval: 5,
      stateFile,
    });
    const decisions: Array<{ phase: number; verdict: string; decisions: GateDecision[] }> = [];
    rollout.on('gate:decision', (e) => decisions.push(e));
    const result = await rollout;
    expect(result).toMatchObject({ status: 'aborted', reason: 'regression' });
    expect(decisions).toHaveLength(1);
    const d = decisions[0]?.decisions[0] as GateDecision;
    expect(d).toMatchObject({ gate: 'cpu_temp:p95:+10%', verdict: 'regression' });
    expect(d.updated.samples).toBe(40);
    expect(d.baseline?.samples).toBe(160);
    expect(d.limit).toBeCloseTo(50.4 * 1.1);
    // the cohorts were the updated devices against the devices not yet updated
    expect(fleet.queries[0]?.devices).toEqual(['dev-0', 'dev-1']);
    expect(fleet.queries[1]?.devices).toEqual(devices.slice(2));
    // only phase 1 was deployed; then exactly its devices were sent back to app-1.0
    expect(fleet.created.map((c) => [c.artifactName, c.devices])).toEqual([
      ['app-2.0', ['dev-0', 'dev-1']],
      ['app-1.0', ['dev-0', 'dev-1']],
    ]);
    expect([...fleet.releases.values()].every((r) => r === 'app-1.0')).toBe(true);
    const state = await readRolloutState(stateFile);
    expect(state?.rollback).toMatchObject({ status: 'succeeded', skipped: [] });
    expect(state?.phases[0]?.gates?.[0]).toMatchObject({ verdict: 'regression', limit: d.limit });
    expect(state?.previousReleases?.['dev-5']).toBe('app-1.0');
  });

  it('a healthy release passes every phase, each decision recorded with its numbers', async () => {
    const fleet = new Fleet(devices, 'app-1.0');
    fleet.valueOf = (r) => (r === 'app-2.0' ? 51 : 50);
    const rollout = new Rollout(fleet, {
      artifactName: 'app-2.0',
      devices,
      phases,
      gates: [parseGate('cpu_temp:p95:+10%'), parseGate('cpu_temp:max:<80')],
      health: fleet,
      pollInterval: 5,
    });
    const verdicts: string[] = [];
    rollout.on('gate:decision', (e) => verdicts.push(`${e.phase}:${e.verdict}`));
    const result = await rollout;
    expect(result.status).toBe('succeeded');
    // phases 1 and 2 judged on both gates; the last phase (no baseline left) on the max gate only
    expect(verdicts).toEqual(['0:pass', '1:pass']);
    expect(result.state.phases[0]?.gates?.map((g) => g.gate)).toEqual([
      'cpu_temp:p95:+10%',
      'cpu_temp:max:<80',
    ]);
    expect(result.state.phases[2]?.gates).toBeUndefined();
    expect([...fleet.releases.values()].every((r) => r === 'app-2.0')).toBe(true);
  });

  it('too few samples holds the phase and then stops with insufficient-data instead of passing', async () => {
    const fleet = new Fleet(devices, 'app-1.0');
    fleet.samplesPerDevice = 1; // 2 samples for the canary cohort, 10 needed
    const rollout = new Rollout(fleet, {
      artifactName: 'app-2.0',
      devices,
      phases,
      gates: [parseGate('cpu_temp:p95:+10%')],
      health: fleet,
      pollInterval: 10,
      gateTimeout: 200,
    });
    const verdicts: string[] = [];
    rollout.on('gate:decision', (e) => verdicts.push(e.verdict));
    const result = await rollout;
    expect(result).toMatchObject({ status: 'aborted', reason: 'insufficient-data' });
    expect(verdicts.length).toBeGreaterThan(1); // held and asked again
    expect(new Set(verdicts)).toEqual(new Set(['insufficient-data']));
    expect(result.state.phases[0]?.gates?.[0]?.reason).toMatch(/2 samples of cpu_temp, needs 10/);
    expect(fleet.created).toHaveLength(1); // phase 2 never started
  });

  it('a rollout stopped in its soak and resumed from its state file makes the same decision', async () => {
    const fleet = new Fleet(devices, 'app-1.0');
    fleet.valueOf = (r) => (r === 'app-2.0' ? 70 : 50);
    const stateFile = join(dir, 'state.json');
    const options = {
      artifactName: 'app-2.0',
      devices,
      phases: [{ count: 2, soak: 60_000 }, {}],
      gates: [parseGate('cpu_temp:mean:+5')],
      health: fleet,
      onRegression: 'abort-and-rollback' as const,
      pollInterval: 5,
      stateFile,
    };
    const stop = new AbortController();
    const first = new Rollout(fleet, { ...options, signal: stop.signal });
    first.on('phase:soak', () => stop.abort(new Error('operator stopped')));
    await expect(first).rejects.toThrow('operator stopped');
    const saved = await readRolloutState(stateFile);
    expect(saved?.phases[0]?.status).toBe('soaking');
    // the soak window ends now, as if the operator came back an hour later
    if (saved?.phases[0]) saved.phases[0].soakUntil = new Date().toISOString();
    const { writeRolloutState } = await import('../src/index.js');
    await writeRolloutState(stateFile, saved as NonNullable<typeof saved>);
    const second = await new Rollout(fleet, options);
    expect(second).toMatchObject({ status: 'aborted', reason: 'regression' });
    expect(second.state.phases[0]?.gates?.[0]?.updated.value).toBeCloseTo(70.2);
    expect(fleet.created.map((c) => c.artifactName)).toEqual(['app-2.0', 'app-1.0']);
    expect(second.state.rollback?.status).toBe('succeeded');
  });

  it('refuses gates without a health source or without a soak window', () => {
    const fleet = new Fleet(devices, 'app-1.0');
    expect(
      () => new Rollout(fleet, { artifactName: 'a', devices, phases, gates: [parseGate('t:p95:+10%')] }),
    ).toThrow(/health source/);
    expect(
      () =>
        new Rollout(fleet, {
          artifactName: 'a',
          devices,
          phases: [{ count: 2 }, {}],
          gates: [parseGate('t:p95:+10%')],
          health: fleet,
        }),
    ).toThrow(/soak window/);
  });
});
