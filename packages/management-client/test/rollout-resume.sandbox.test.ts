/**
 * A health-gated rollout over real HTTP against the sandbox, stopped after its first phase through
 * its AbortSignal and resumed from the state file by a new client: phase 2 runs, phase 1's
 * deployment is not created again, and the rollout completes as the devices report success.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateDeviceKey, writeArtifact } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Deployment, ManagementClient, type RolloutOptions, readRolloutState } from '../src/index.js';
import { FakeDevice } from './fake-device.js';

const DEVICE_TYPE = 'otakit-test';
const ARTIFACT = 'rollout-app-2';

let sandbox: Sandbox;
let dir: string;

const client = (): ManagementClient =>
  new ManagementClient({
    serverUrl: sandbox.url,
    auth: { email: sandbox.adminEmail, password: sandbox.adminPassword },
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });

/** Polls `next` for every device and takes each deployment it gets to `success`, until stopped. */
function driveDevices(devices: FakeDevice[], stop: AbortSignal): Promise<void> {
  return (async () => {
    while (!stop.aborted) {
      for (const device of devices) {
        const deploymentId = await device.next('factory', DEVICE_TYPE);
        if (deploymentId !== undefined) await device.complete(deploymentId, 'success');
      }
      await sleep(10);
    }
  })();
}

async function allDeployments(mgmt: ManagementClient): Promise<Deployment[]> {
  const out: Deployment[] = [];
  for await (const d of mgmt.deployments.list({ perPage: 500 })) out.push(d);
  return out.sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

async function deploymentDevices(mgmt: ManagementClient, id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const d of mgmt.deployments.devices(id, { perPage: 500 })) out.push(String(d.id));
  return out.sort();
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'otakit-rollout-resume-'));
});

afterAll(async () => {
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a rollout resumed from its state file against the sandbox', () => {
  it('continues with phase 2 after being stopped after phase 1, without recreating phase 1', async () => {
    const setup = client();
    const artifactPath = join(dir, `${ARTIFACT}.mender`);
    await writeArtifact(
      {
        type: 'module-image',
        moduleType: 'single-file',
        artifactName: ARTIFACT,
        deviceTypes: [DEVICE_TYPE],
        files: [{ name: 'payload.bin', content: new Uint8Array(1024).fill(7) }],
      },
      artifactPath,
    );
    await setup.artifacts.upload(artifactPath);
    const key = await generateDeviceKey({ type: 'ed25519' });
    const fleet: FakeDevice[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const device = await FakeDevice.create(sandbox.url, { sn: `resume-${i}` }, key);
      ids.push((await setup.devices.preauthorize({ identity: device.identity, pubkey: device.pubkey })).id);
      expect(await device.authenticate()).toBe(200);
      fleet.push(device);
    }
    await setup.close();

    const stopDevices = new AbortController();
    const driving = driveDevices(fleet, stopDevices.signal);
    const stateFile = join(dir, 'rollout.json');
    const options = (): RolloutOptions => ({
      artifactName: ARTIFACT,
      devices: ids,
      phases: [{ count: 2, soak: 200 }, {}],
      abortWhen: { failureRate: 0.2, minFinished: 1 },
      pollInterval: 20,
      stateFile,
    });

    try {
      // First run: stopped once phase 1 completed (during its soak).
      const first = client();
      const stop = new AbortController();
      const run1 = first.rollout({ ...options(), signal: stop.signal });
      const started1: number[] = [];
      run1.on('phase:start', (e) => started1.push(e.phase));
      run1.on('phase:complete', (e) => {
        if (e.phase === 0) stop.abort(new Error('operator stop'));
      });
      await expect(run1).rejects.toThrow('operator stop');
      await first.close();
      expect(started1).toEqual([0]);

      const saved = await readRolloutState(stateFile);
      expect(saved?.status).toBe('running');
      expect(saved?.currentPhase).toBe(0);
      expect(saved?.phases[0]).toMatchObject({ status: 'soaking', devices: ids.slice(0, 2) });
      expect(saved?.phases[1]).toMatchObject({ status: 'pending', devices: ids.slice(2) });
      expect(saved?.phases[1]?.deploymentId).toBeUndefined();
      const phase1Id = saved?.phases[0]?.deploymentId as string;

      const observer = client();
      try {
        const afterStop = await allDeployments(observer);
        expect(afterStop.map((d) => d.id)).toEqual([phase1Id]);
        expect(afterStop[0]).toMatchObject({ name: `rollout ${ARTIFACT} phase 1/2`, status: 'finished' });
      } finally {
        await observer.close();
      }

      // Second run: a new client, the same state file.
      const second = client();
      try {
        const run2 = second.rollout(options());
        const started2: Array<{ phase: number; resumed: boolean }> = [];
        run2.on('phase:start', (e) => started2.push({ phase: e.phase, resumed: e.resumed }));
        const result = await run2;
        expect(result.status).toBe('succeeded');
        expect(result.reason).toBeUndefined();
        expect(started2.map((s) => s.phase)).toEqual([1]);
        expect(result.state.id).toBe(saved?.id);
        expect(result.state.phases.map((p) => p.status)).toEqual(['succeeded', 'succeeded']);
        expect(result.state.phases[0]?.deploymentId).toBe(phase1Id);
        const phase2Id = result.state.phases[1]?.deploymentId as string;
        expect(phase2Id).toBeDefined();
        expect(phase2Id).not.toBe(phase1Id);

        const deployments = await allDeployments(second);
        expect(deployments.map((d) => d.id)).toEqual([phase1Id, phase2Id]);
        expect(deployments.map((d) => d.name)).toEqual([
          `rollout ${ARTIFACT} phase 1/2`,
          `rollout ${ARTIFACT} phase 2/2`,
        ]);
        expect(deployments.every((d) => d.status === 'finished')).toBe(true);
        expect(await deploymentDevices(second, phase1Id)).toEqual(ids.slice(0, 2).sort());
        expect(await deploymentDevices(second, phase2Id)).toEqual(ids.slice(2).sort());
        expect(await second.deployments.statistics(phase1Id)).toMatchObject({ success: 2, failure: 0 });
        expect(await second.deployments.statistics(phase2Id)).toMatchObject({ success: 3, failure: 0 });
        expect((await readRolloutState(stateFile))?.status).toBe('succeeded');
      } finally {
        await second.close();
      }
    } finally {
      stopDevices.abort();
      await driving;
    }
  });
});
