import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey, writeArtifact } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortError,
  BadRequestError,
  ConflictError,
  ManagementClient,
  NotFoundError,
  RateLimitError,
  UnauthorizedError,
} from '../src/index.js';
import { FakeDevice } from './fake-device.js';

let sandbox: Sandbox;
let mgmt: ManagementClient;
let dir: string;
let sharedKey: Awaited<ReturnType<typeof generateDeviceKey>>;

const DEVICE_TYPE = 'otakit-test';

async function makeArtifact(name: string, bytes = 2048): Promise<string> {
  const path = join(dir, `${name}.mender`);
  await writeArtifact(
    {
      type: 'module-image',
      moduleType: 'single-file',
      artifactName: name,
      deviceTypes: [DEVICE_TYPE],
      files: [{ name: 'payload.bin', content: new Uint8Array(bytes).fill(1) }],
    },
    path,
  );
  return path;
}

/** Accepted devices with device tokens. */
async function acceptedDevices(prefix: string, n: number): Promise<FakeDevice[]> {
  const devices = await Promise.all(
    Array.from({ length: n }, (_, i) => FakeDevice.create(sandbox.url, { sn: `${prefix}-${i}` }, sharedKey)),
  );
  const r = await mgmt.devices.preauthorizeMany(
    devices.map((d) => ({ identity: d.identity, pubkey: d.pubkey })),
    { concurrency: 8 },
  );
  expect(r.failed).toBe(0);
  for (const d of devices) expect(await d.authenticate()).toBe(200);
  return devices;
}

async function idOf(device: FakeDevice): Promise<string> {
  for await (const d of mgmt.devices.list({ perPage: 500 })) {
    if (JSON.stringify(d.identity_data) === JSON.stringify(device.identity)) return d.id as string;
  }
  throw new Error('device not found');
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  mgmt = new ManagementClient({
    serverUrl: sandbox.url,
    auth: { email: sandbox.adminEmail, password: sandbox.adminPassword },
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
  dir = await mkdtemp(join(tmpdir(), 'otakit-mgmt-'));
  sharedKey = await generateDeviceKey({ type: 'ed25519' });
});

afterAll(async () => {
  await mgmt?.close();
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('devices against the sandbox', () => {
  it('logs in with email and password and counts devices', async () => {
    expect(await mgmt.devices.count()).toBe(0);
    expect(typeof (await mgmt.token())).toBe('string');
    expect(await mgmt.devices.maxDevices()).toBe(-1);
  });

  it('preauthorizes, and returns the existing device on 409 only when asked', async () => {
    const input = { identity: { mac: '00:00:00:00:00:01' }, pubkey: sharedKey.publicKeyPem };
    const created = await mgmt.devices.preauthorize(input);
    expect(created.created).toBe(true);
    expect(created.id).not.toBe('');
    await expect(mgmt.devices.preauthorize(input)).rejects.toBeInstanceOf(ConflictError);
    const again = await mgmt.devices.preauthorize(input, { ifExists: 'return' });
    expect(again).toMatchObject({ id: created.id, created: false });
    expect(again.device?.status).toBe('preauthorized');
    const device = await mgmt.devices.get(created.id);
    expect(device.identity_data).toEqual({ mac: '00:00:00:00:00:01' });
    await expect(
      mgmt.devices.preauthorize({ identity: { mac: 'x' }, pubkey: 'not a key' }),
    ).rejects.toBeInstanceOf(BadRequestError);
  });

  it('pages through more than 500 devices following Link headers', async () => {
    const items = Array.from({ length: 620 }, (_, i) => ({
      identity: { sn: `bulk-${String(i).padStart(4, '0')}` },
      pubkey: sharedKey.publicKeyPem,
    }));
    const r = await mgmt.devices.preauthorizeMany(items, { concurrency: 16 });
    expect(r).toMatchObject({ succeeded: 620, failed: 0 });
    // Re-running in idempotent mode succeeds for every item without creating anything.
    const rerun = await mgmt.devices.preauthorizeMany(items.slice(0, 50), {
      concurrency: 16,
      ifExists: 'return',
    });
    expect(rerun.succeeded).toBe(50);
    expect(rerun.results.every((x) => x.ok && !x.value.created)).toBe(true);

    const pages: number[] = [];
    for await (const page of mgmt.devices.list({ status: 'preauthorized', perPage: 500 }).pages()) {
      pages.push(page.items.length);
    }
    expect(pages).toEqual([500, 121]);
    let n = 0;
    const seen = new Set<string>();
    for await (const d of mgmt.devices.list({ status: 'preauthorized', perPage: 100 })) {
      n++;
      seen.add(d.id as string);
    }
    expect(n).toBe(621);
    expect(seen.size).toBe(621);
    expect(await mgmt.devices.count({ status: 'preauthorized' })).toBe(621);
  });

  it('accepts, rejects, dismisses auth sets, revokes tokens and decommissions', async () => {
    const a = await FakeDevice.create(sandbox.url, { mac: 'aa:01' });
    const b = await FakeDevice.create(sandbox.url, { mac: 'aa:02' });
    expect(await a.authenticate()).toBe(401); // unknown: pending
    expect(await b.authenticate()).toBe(401);
    const pending = await mgmt.devices.list({ status: 'pending' }).toArray();
    expect(pending).toHaveLength(2);
    const idA = await idOf(a);
    const idB = await idOf(b);

    const accepted = await mgmt.devices.acceptMany([idA, 'no-such-device'], { concurrency: 2 });
    expect(accepted.succeeded).toBe(1);
    expect(accepted.results[1]?.ok === false && accepted.results[1].error).toBeInstanceOf(NotFoundError);
    expect(await a.authenticate()).toBe(200);
    expect(await a.reportInventory([{ name: 'device_type', value: DEVICE_TYPE }])).toBe(200);

    await mgmt.devices.reject(idB);
    expect((await mgmt.devices.get(idB)).status).toBe('rejected');
    const authSetB = (await mgmt.devices.get(idB)).auth_sets?.[0]?.id as string;
    expect(await mgmt.devices.getAuthSetStatus(idB, authSetB)).toBe('rejected');
    await mgmt.devices.dismissAuthSet(idB, authSetB);
    expect((await mgmt.devices.get(idB)).auth_sets ?? []).toHaveLength(0);

    const revoked = await mgmt.devices.revokeTokens(idA);
    expect(revoked).toHaveLength(1);
    expect(await a.reportInventory([{ name: 'x', value: 1 }])).toBe(401);

    const gone = await mgmt.devices.decommissionMany([idA], { concurrency: 4 });
    expect(gone.succeeded).toBe(1);
    await expect(mgmt.devices.get(idA)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('retries on 429 from the fault switch, and throws RateLimitError when retries run out', async () => {
    const retries: Array<number | undefined> = [];
    const onRetry = (e: { status?: number }) => retries.push(e.status);
    mgmt.events.on('retry', onRetry);
    sandbox.faults.set({ rateLimit: { retryAfter: 0, count: 2, pathPrefix: '/api/management/v2/devauth' } });
    expect(await mgmt.devices.count({ status: 'preauthorized' })).toBe(621);
    expect(retries).toEqual([429, 429]);

    sandbox.faults.set({ rateLimit: { retryAfter: 0, count: 1, pathPrefix: '/api/management/v2/devauth' } });
    const r = await mgmt.devices.preauthorize(
      { identity: { sn: 'after-429' }, pubkey: sharedKey.publicKeyPem },
      { ifExists: 'return' },
    );
    expect(r.created).toBe(true);

    sandbox.faults.set({ rateLimit: { retryAfter: 1, count: 5, pathPrefix: '/api/management/v2/devauth' } });
    const err = await mgmt.devices.count({ maxRetries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(1000);
    sandbox.faults.clear();
    mgmt.events.off('retry', onRetry);
  });

  it('retries GETs through injected 503s', async () => {
    sandbox.faults.set({
      serverErrors: { ratio: 0.5, status: 503, pathPrefix: '/api/management/v2/devauth' },
    });
    for (let i = 0; i < 4; i++) expect(await mgmt.devices.count({ status: 'preauthorized' })).toBe(622);
    sandbox.faults.clear();
  });
});

describe('inventory against the sandbox', () => {
  let devices: FakeDevice[];
  let ids: string[];

  beforeAll(async () => {
    devices = await acceptedDevices('inv', 3);
    ids = [];
    for (const [i, d] of devices.entries()) {
      expect(
        await d.reportInventory([
          { name: 'device_type', value: DEVICE_TYPE },
          { name: 'site', value: i === 0 ? 'berlin' : 'oslo' },
        ]),
      ).toBe(200);
      ids.push(await idOf(d));
    }
  });

  it('gets a device inventory and its attributes', async () => {
    const inv = await mgmt.inventory.get(ids[0] as string);
    expect(inv.id).toBe(ids[0]);
    const attrs = await mgmt.inventory.attributes(ids[0] as string);
    expect(attrs.find((a) => a.name === 'site')?.value).toBe('berlin');
  });

  it('lists with attribute filters and searches with predicates', async () => {
    const berlin = await mgmt.inventory.list({ filters: { 'inventory/site': 'berlin' } }).toArray();
    expect(berlin.map((d) => d.id)).toEqual([ids[0]]);
    const oslo = await mgmt.inventory
      .search(
        { filters: [{ scope: 'inventory', attribute: 'site', type: '$eq', value: 'oslo' }] },
        { perPage: 1 },
      )
      .toArray();
    expect(oslo.map((d) => d.id).sort()).toEqual([ids[1], ids[2]].sort());
  });

  it('assigns, lists and removes static groups', async () => {
    await mgmt.inventory.groups.assign(ids[0] as string, 'canary');
    await mgmt.inventory.groups.addDevices('fleet', [ids[1] as string, ids[2] as string]);
    expect((await mgmt.inventory.groups.list()).sort()).toEqual(['canary', 'fleet']);
    expect(await mgmt.inventory.groups.of(ids[0] as string)).toBe('canary');
    expect((await mgmt.inventory.groups.devices('fleet').toArray()).sort()).toEqual([ids[1], ids[2]].sort());
    const grouped = await mgmt.inventory.list({ group: 'canary' }).toArray();
    expect(grouped.map((d) => d.id)).toEqual([ids[0]]);
    await mgmt.inventory.groups.remove(ids[0] as string, 'canary');
    expect(await mgmt.inventory.groups.of(ids[0] as string)).toBeUndefined();
    await mgmt.inventory.groups.removeDevices('fleet', [ids[2] as string]);
    expect(await mgmt.inventory.groups.devices('fleet').toArray()).toEqual([ids[1]]);
  });
});

describe('artifacts and deployments against the sandbox', () => {
  let artifactId: string;

  it('uploads an artifact from a path with progress, then lists, gets and links it', async () => {
    const path = await makeArtifact('app-1.0', 200_000);
    const size = (await stat(path)).size;
    const upload = mgmt.artifacts.upload(path, { description: 'first' });
    const seen: number[] = [];
    upload.on('progress', (p) => seen.push(p.loaded));
    artifactId = (await upload).id;
    expect(seen.at(-1)).toBe(size);

    const listed = await mgmt.artifacts.list().toArray();
    expect(listed.map((a) => a.name)).toContain('app-1.0');
    const artifact = await mgmt.artifacts.get(artifactId);
    expect(artifact).toMatchObject({ name: 'app-1.0', description: 'first' });
    expect(artifact.device_types_compatible).toEqual([DEVICE_TYPE]);
    const link = await mgmt.artifacts.downloadLink(artifactId);
    expect(link.uri).toMatch(/^http/);
    const releases = await mgmt.releases.list().toArray();
    expect(releases.map((r) => r.name)).toContain('app-1.0');

    await expect(mgmt.artifacts.upload(path)).rejects.toBeInstanceOf(ConflictError);
  });

  it('uploads from a stream and deletes', async () => {
    const path = await makeArtifact('app-tmp');
    const { id } = await mgmt.artifacts.upload(createReadStream(path), { filename: 'tmp.mender' });
    await mgmt.artifacts.delete(id);
    await expect(mgmt.artifacts.get(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('aborts an upload in flight', async () => {
    let sent = 0;
    const upload = mgmt.artifacts.upload(
      (async function* () {
        for (;;) {
          sent += 64 * 1024;
          yield new Uint8Array(64 * 1024);
        }
      })(),
    );
    upload.on('progress', (p) => {
      if (p.loaded >= 1024 * 1024) upload.abort();
    });
    await expect(upload).rejects.toBeInstanceOf(AbortError);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    // The server is still fine afterwards.
    expect((await mgmt.artifacts.list().toArray()).map((a) => a.name)).not.toContain('artifact.mender');
  });

  it('creates deployments for devices, a group and all; waits, reads statistics, device states and logs', async () => {
    const devices = await acceptedDevices('dep', 3);
    const ids = await Promise.all(devices.map(idOf));
    const depId = await mgmt.deployments.create({
      name: 'to-devices',
      artifactName: 'app-1.0',
      devices: ids,
    });
    const deployment = await mgmt.deployments.get(depId);
    expect(deployment).toMatchObject({ id: depId, name: 'to-devices', artifact_name: 'app-1.0' });
    expect((await mgmt.deployments.list().toArray()).map((d) => d.id)).toContain(depId);

    const wait = mgmt.deployments.waitFor(depId, { interval: 5 });
    const snapshots: number[] = [];
    wait.on('statistics', (s) => snapshots.push(s.statistics.success ?? 0));
    for (const [i, d] of devices.entries()) {
      expect(await d.next('factory', DEVICE_TYPE)).toBe(depId);
      await d.complete(depId, i === 2 ? 'failure' : 'success');
      if (i === 2) expect(await d.log(depId, 'install failed: disk full')).toBe(204);
    }
    const final = await wait;
    expect(final.deployment.status).toBe('finished');
    expect(final.statistics).toMatchObject({ success: 2, failure: 1 });
    expect(snapshots.length).toBeGreaterThan(0);
    expect(await mgmt.deployments.statistics(depId)).toMatchObject({ success: 2, failure: 1 });
    const failed = await mgmt.deployments.devices(depId, { status: 'failure' }).toArray();
    expect(failed.map((d) => d.id)).toEqual([ids[2]]);
    expect(await mgmt.deployments.deviceLog(depId, ids[2] as string)).toContain('disk full');

    await mgmt.inventory.groups.addDevices('dep-group', ids.slice(0, 2));
    const groupDep = await mgmt.deployments.create({
      name: 'to-group',
      artifactName: 'app-1.0',
      group: 'dep-group',
      forceInstallation: true,
    });
    expect((await mgmt.deployments.get(groupDep)).device_count).toBe(2);
    await mgmt.deployments.abort(groupDep);
    const aborted = await mgmt.deployments.waitFor(groupDep, { interval: 5 });
    expect(aborted.statistics.aborted).toBe(2);

    const allDep = await mgmt.deployments.create({
      name: 'to-all',
      artifactName: 'app-1.0',
      all: true,
      forceInstallation: true,
    });
    expect((await mgmt.deployments.get(allDep)).device_count).toBeGreaterThanOrEqual(3);
    await mgmt.deployments.abort(allDep);
  });
});

describe('rollout against the sandbox', () => {
  it('aborts the phase and stops when injected failures cross the threshold', async () => {
    await makeArtifact('app-2.0').then((p) => mgmt.artifacts.upload(p));
    const devices = await acceptedDevices('roll', 12);
    const ids = await Promise.all(devices.map(idOf));
    const failing = new Set(ids.filter((_, i) => i % 2 === 1)); // half the fleet fails
    const byId = new Map(ids.map((id, i) => [id, devices[i] as FakeDevice]));

    const rollout = mgmt.rollout({
      artifactName: 'app-2.0',
      devices: ids,
      phases: [{ count: 2 }, { count: 6 }, {}],
      abortWhen: { failureRate: 0.3, minFinished: 3 },
      pollInterval: 5,
      stateFile: join(dir, 'rollout.json'),
    });
    const events: string[] = [];
    // The fake devices act on each phase's deployment as it starts.
    rollout.on('phase:start', ({ phase, deploymentId }) => {
      events.push(`start ${phase}`);
      const phaseDevices = rollout.state?.phases[phase]?.devices ?? [];
      void (async () => {
        for (const id of phaseDevices) {
          const device = byId.get(id) as FakeDevice;
          const dep = await device.next('app-1.0', DEVICE_TYPE);
          if (dep !== deploymentId) continue;
          await device.complete(dep, failing.has(id) ? 'failure' : 'success');
        }
      })();
    });
    rollout.on('phase:complete', ({ phase }) => events.push(`complete ${phase}`));
    rollout.on('phase:abort', ({ phase, reason }) => events.push(`abort ${phase} ${reason}`));
    const result = await rollout;
    expect(result).toMatchObject({ status: 'aborted', reason: 'failure-rate' });
    expect(events).toEqual(['start 0', 'complete 0', 'start 1', 'abort 1 failure-rate']);
    const phase1 = result.state.phases[1];
    const stats = await mgmt.deployments.statistics(phase1?.deploymentId as string);
    expect(stats.failure).toBeGreaterThan(0);
    expect((await mgmt.deployments.get(phase1?.deploymentId as string)).status).toBe('finished');
    expect(result.state.phases[2]?.deploymentId).toBeUndefined();
  });
  it('rolls out to a group in phases with a soak and succeeds when devices are healthy', async () => {
    const devices = await acceptedDevices('roll-ok', 3);
    const ids = await Promise.all(devices.map(idOf));
    await mgmt.inventory.groups.addDevices('roll-ok', ids);
    const byId = new Map(ids.map((id, i) => [id, devices[i] as FakeDevice]));
    const rollout = mgmt.rollout({
      artifactName: 'app-2.0',
      group: 'roll-ok',
      phases: [{ percent: 34, soak: 20 }, {}],
      abortWhen: { failureRate: 0.5 },
      pollInterval: 5,
    });
    const events: string[] = [];
    rollout.on('phase:start', ({ phase, deploymentId }) => {
      events.push(`start ${phase}`);
      void (async () => {
        for (const id of rollout.state?.phases[phase]?.devices ?? []) {
          const device = byId.get(id) as FakeDevice;
          if ((await device.next('app-1.0', DEVICE_TYPE)) === deploymentId)
            await device.complete(deploymentId, 'success');
        }
      })();
    });
    rollout.on('phase:soak', ({ phase }) => events.push(`soak ${phase}`));
    rollout.on('phase:complete', ({ phase }) => events.push(`complete ${phase}`));
    const result = await rollout;
    expect(result.status).toBe('succeeded');
    expect(events).toEqual(['start 0', 'complete 0', 'soak 0', 'start 1', 'complete 1']);
    expect(result.state.phases.map((p) => p.devices.length)).toEqual([2, 1]);
    expect(result.state.phases.flatMap((p) => p.devices).sort()).toEqual([...ids].sort());
  });
});

describe('re-login against the sandbox', () => {
  it('logs in again when the user token has expired', async () => {
    let clock = Date.now();
    const short = await startSandbox({ port: 0, userTokenTtlSeconds: 60, now: () => new Date(clock) });
    const client = new ManagementClient({
      serverUrl: short.url,
      auth: { email: short.adminEmail, password: short.adminPassword },
    });
    try {
      expect(await client.devices.count()).toBe(0);
      const first = await client.token();
      clock += 120_000;
      expect(await client.devices.count()).toBe(0);
      expect(await client.token()).not.toBe(first);

      const stale = new ManagementClient({ serverUrl: short.url, auth: first as string });
      await expect(stale.devices.count()).rejects.toBeInstanceOf(UnauthorizedError);
      await stale.close();
    } finally {
      await client.close();
      await short.close();
    }
  });
});
