/**
 * `otakit rollout --gate … --telemetry-url … --rollback` over real HTTP: a sandbox serving both
 * planes with its bridges feeding a telemetry store, a simulated fleet running the real agent and
 * publishing telemetry, and the CLI judging each phase by that telemetry.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '@otakit/core';
import { ManagementClient, parseGate, readRolloutState, telemetryDeviceIds } from '@otakit/management-client';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { type FleetSimulator, parseRegression, startFleetSimulator } from '@otakit/simulator';
import {
  openTelemetryStore,
  releaseHealthSource,
  startTelemetryApi,
  storeSink,
  TelemetryHttpClient,
  type TelemetryServer,
  type TelemetryStore,
} from '@otakit/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateTable } from '../src/commands/rollout.js';
import { run as runCli } from './helpers.js';

const REG = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };

let sandbox: Sandbox;
let store: TelemetryStore;
let api: TelemetryServer;
let mgmt: ManagementClient;
let fleet: FleetSimulator;
let dir: string;
let deviceIds: string[];

async function upload(name: string): Promise<void> {
  const image = join(dir, `${name}.img`);
  await writeFile(image, randomBytes(32 * 1024));
  const path = join(dir, `${name}.mender`);
  await writeArtifact(
    { type: 'rootfs-image', artifactName: name, deviceTypes: ['sim-board'], files: [image] },
    path,
  );
  await mgmt.artifacts.upload(path);
}

async function rollout(artifact: string, ...extra: string[]) {
  return rolloutWith(artifact, 'cpu_temp:mean:+10%@3', ...extra);
}

async function rolloutWith(artifact: string, gate: string, ...extra: string[]) {
  const r = await runCli(
    'rollout',
    '--artifact',
    artifact,
    '--devices',
    deviceIds.join(','),
    '--phase',
    '1:2s',
    '--phase',
    'rest',
    '--gate',
    gate,
    '--telemetry-url',
    api.url,
    '--poll-interval',
    '250ms',
    ...(extra.includes('--gate-timeout') ? [] : ['--gate-timeout', '20s']),
    '--server',
    sandbox.url,
    '--token',
    sandbox.managementToken(),
    ...extra,
  );
  process.exitCode = undefined;
  return r;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-gates-'));
  store = await openTelemetryStore(':memory:');
  sandbox = await startSandbox({ port: 0, iotCore: { ...REG, telemetrySink: storeSink(store) } });
  api = await startTelemetryApi({ store });
  mgmt = new ManagementClient({ serverUrl: sandbox.url, auth: sandbox.managementToken() });
  const iot = sandbox.iotCore;
  if (!iot?.mqttUrl) throw new Error('no IoT Core plane');
  fleet = await startFleetSimulator({
    menderUrl: sandbox.url,
    management: mgmt,
    iot: { ...REG, apiUrl: iot.url, mqttUrl: iot.mqttUrl, token: iot.adminToken ?? '' },
    devices: 4,
    dataDir: join(dir, 'fleet'),
    telemetryIntervalMs: 200,
    pollIntervalMs: 300,
    metrics: ({ index }) => ({ cpu_temp: 50 + index * 0.1 }),
    regress: [parseRegression('release-hot:cpu_temp:+30%')],
  });
  for (const name of ['release-base', 'release-hot', 'release-cool']) await upload(name);
  const accepted = async () =>
    (await mgmt.devices.list({ status: 'accepted' }).toArray()).map((d) => d.id as string);
  const end = Date.now() + 30_000;
  while ((await accepted()).length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  deviceIds = (await accepted()).sort();
  // every device starts on release-base
  const dep = await mgmt.deployments.create({
    name: 'base',
    artifactName: 'release-base',
    devices: deviceIds,
  });
  await mgmt.deployments.waitFor(dep, {
    interval: 200,
    maxInterval: 500,
    signal: AbortSignal.timeout(60_000),
  });
}, 120_000);
afterAll(async () => {
  await fleet?.stop();
  await mgmt?.close();
  await api?.close();
  await sandbox?.close();
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('otakit rollout with release health gates', () => {
  it('halts a regressing release on the canary and rolls the canary back to the release it ran', {
    timeout: 90_000,
  }, async () => {
    const r = await rollout('release-hot', '--rollback', '--json');
    expect(r.code, r.stderr).toBe(3);
    const state = JSON.parse(r.stdout);
    expect(state).toMatchObject({ status: 'aborted', reason: 'regression' });
    const decision = state.phases[0].gates[0];
    expect(decision).toMatchObject({ gate: 'cpu_temp:mean:+10%', verdict: 'regression' });
    expect(decision.updated.value / decision.baseline.value).toBeGreaterThan(1.25);
    expect(decision.updated.samples).toBeGreaterThanOrEqual(3);
    expect(state.phases[1].deploymentId).toBeUndefined(); // the rest never got it
    expect(state.rollback).toMatchObject({ status: 'succeeded', skipped: [] });
    expect(state.rollback.deployments).toEqual([
      expect.objectContaining({ artifactName: 'release-base', devices: state.phases[0].devices }),
    ]);
    expect([...(await fleet.releases()).values()]).toEqual(Array(4).fill('release-base'));
  });

  it('lets a healthy release through every phase, printing each decision with its numbers', {
    timeout: 90_000,
  }, async () => {
    const r = await rollout('release-cool');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('rollout succeeded\n');
    expect(r.stderr).toMatch(/phase 1: gates say pass/);
    expect(r.stderr).toMatch(/PHASE\s+GATE\s+VERDICT\s+UPDATED \(N\)\s+BASELINE \(N\)\s+LIMIT/);
    expect(r.stderr).toMatch(/phase 1\s+cpu_temp:mean:\+10%\s+pass/);
    expect([...(await fleet.releases()).values()]).toEqual(Array(4).fill('release-cool'));
  });

  it('stopped in its soak and resumed from its state file, makes the same decision and rolls back once', {
    timeout: 90_000,
  }, async () => {
    const stateFile = join(dir, 'resume.json');
    const telemetry = new TelemetryHttpClient({ baseUrl: api.url });
    const health = releaseHealthSource(telemetry, { deviceIdsOf: telemetryDeviceIds(mgmt.devices) });
    const options = {
      artifactName: 'release-hot',
      devices: deviceIds,
      phases: [{ count: 1, soak: 2_000 }, {}],
      gates: [parseGate('cpu_temp:mean:+10%@3')],
      health,
      onRegression: 'abort-and-rollback' as const,
      pollInterval: 250,
      stateFile,
    };
    const deploymentsBefore = (await mgmt.deployments.list().toArray()).length;
    try {
      const stop = new AbortController();
      const first = mgmt.rollout({ ...options, signal: stop.signal });
      first.on('phase:soak', () => stop.abort(new Error('operator stopped')));
      await expect(first).rejects.toThrow('operator stopped');
      expect((await readRolloutState(stateFile))?.phases[0]?.status).toBe('soaking');
      const resumed = await mgmt.rollout(options);
      expect(resumed).toMatchObject({ status: 'aborted', reason: 'regression' });
      expect(resumed.state.phases[0]?.gates?.[0]?.verdict).toBe('regression');
      expect(resumed.state.rollback?.status).toBe('succeeded');
      // one canary deployment (not recreated on resume) and one rollback
      expect((await mgmt.deployments.list().toArray()).length - deploymentsBefore).toBe(2);
      expect([...(await fleet.releases()).values()]).toEqual(Array(4).fill('release-cool'));
    } finally {
      await telemetry.close();
    }
  });

  it('holds a phase while the gates lack samples, then stops with insufficient-data instead of passing', {
    timeout: 90_000,
  }, async () => {
    const r = await rolloutWith('release-hot', 'cpu_temp:mean:+10%@100000', '--gate-timeout', '2s', '--json');
    expect(r.code, r.stderr).toBe(3);
    const state = JSON.parse(r.stdout);
    expect(state).toMatchObject({ status: 'aborted', reason: 'insufficient-data' });
    expect(state.phases[0].gates[0].verdict).toBe('insufficient-data');
    expect(state.phases[0].gates[0].reason).toMatch(/needs 100000/);
    expect(state.phases[1].deploymentId).toBeUndefined();
  });

  it('refuses gates without a telemetry URL or a soak window, before calling anyone', async () => {
    const noUrl = await runCli(
      'rollout',
      '--artifact',
      'x',
      '--devices',
      'a,b',
      '--phase',
      '1:1s',
      '--phase',
      'rest',
      '--gate',
      'cpu_temp:p95:+10%',
      '--server',
      'http://127.0.0.1:9',
      '--token',
      't',
    );
    expect(noUrl.stderr).toMatch(/--gate needs --telemetry-url/);
    const noSoak = await runCli(
      'rollout',
      '--artifact',
      'x',
      '--devices',
      'a,b',
      '--phase',
      '1',
      '--phase',
      'rest',
      '--gate',
      'cpu_temp:p95:+10%',
      '--telemetry-url',
      'http://127.0.0.1:9',
      '--server',
      'http://127.0.0.1:9',
      '--token',
      't',
    );
    expect(noSoak.stderr).toMatch(/needs a soak window/);
    const badGate = await runCli(
      'rollout',
      '--artifact',
      'x',
      '--devices',
      'a',
      '--phase',
      'rest',
      '--gate',
      'cpu_temp:median:+10%',
      '--server',
      'http://127.0.0.1:9',
      '--token',
      't',
    );
    expect(badGate.stderr).toMatch(/--gate: a gate is metric:stat:rule/);
    process.exitCode = undefined;
  });
});

describe('gateTable', () => {
  it('lays out each decision with the cohorts and the limit', () => {
    const t = gateTable(0, [
      {
        gate: 'cpu_temp:p95:+10%',
        verdict: 'regression',
        reason: 'x',
        updated: { value: 66.25, samples: 12 },
        baseline: { value: 50, samples: 40 },
        limit: 55,
        window: { from: '', to: '' },
        at: '',
      },
    ]).split('\n');
    expect(t[0]).toMatch(/^PHASE\s+GATE\s+VERDICT/);
    expect(t[1]).toMatch(/^phase 1\s+cpu_temp:p95:\+10%\s+regression\s+66\.250 \(12\)\s+50 \(40\)\s+55$/);
  });
});
