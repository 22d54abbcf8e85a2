/**
 * otakit's whole story on one machine: two planes, one key.
 *
 * 1. a local sandbox serves a Mender-compatible server (management plane) and a Cloud IoT
 *    Core-compatible registry with its MQTT bridge (data plane);
 * 2. each device gets ONE key (ECDSA P-256: Mender signs with it, IoT Core takes ES256 JWTs);
 * 3. the devices are registered once, in the registry; `preauthorizeFromRegistry` preauthorizes
 *    them in Mender with the same keys (nobody accepts anything by hand);
 * 4. each device runs the OTA agent and publishes telemetry tagged with the release it runs;
 * 5. release 2 is deployed and the telemetry shows it; release 3 fails its health check on the
 *    devices, which roll back, and the telemetry shows release 2 again;
 * 6. release 2.2 runs hot: a rollout gated on the telemetry halts it on the canary and rolls the
 *    canary back to the release it ran, while the fleet page (URL printed) shows it all;
 * 7. a per-release summary read from the telemetry store closes the story.
 *
 * Exits 0 when the whole story happened as told. Run it with `pnpm demo` (after `pnpm build`);
 * `pnpm demo --keep` keeps everything running (and the page up) until Ctrl+C.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey, writeArtifact } from '@otakit/core';
import { startDashboard } from '@otakit/dashboard';
import { DeviceClient, SimulatedInstaller, type UpdateOutcome } from '@otakit/device-client';
import {
  DeviceTelemetry,
  IotCoreDevice,
  menderAdmission,
  preauthorizeFromRegistry,
  RegistryClient,
  toDeviceCredential,
} from '@otakit/iot-core-adapter';
import { ManagementClient, parseGate, telemetryDeviceIds } from '@otakit/management-client';
import { startSandbox } from '@otakit/sandbox';
import { openTelemetryStore, releaseHealthSource, storeSink } from '@otakit/telemetry';

const DEVICES = 3;
const DEVICE_TYPE = 'demo-board';
const REGISTRY = { project: 'otakit-sandbox', location: 'us-central1', registry: 'devices' };

const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 23)}  ${line}`);

const keep = process.argv.includes('--keep');
// One sandbox process serves both planes; every message its bridges accept lands in the store.
const store = await openTelemetryStore(':memory:');
const mender = await startSandbox({ port: 0, iotCore: { ...REGISTRY, telemetrySink: storeSink(store) } });
const iot = mender.iotCore as NonNullable<typeof mender.iotCore>;
const work = await mkdtemp(join(tmpdir(), 'otakit-two-planes-'));
const cleanups: Array<() => Promise<unknown>> = [];
let ok = false;
try {
  log(`sandbox: Mender ${mender.url}; IoT Core ${iot.url}, MQTT ${iot.mqttUrl}`);
  const mgmt = new ManagementClient({
    serverUrl: mender.url,
    auth: { email: mender.adminEmail, password: mender.adminPassword },
  });
  const registry = new RegistryClient({ ...REGISTRY, baseUrl: iot.url, auth: iot.adminToken ?? '' });
  cleanups.push(
    () => mgmt.close(),
    () => registry.close(),
  );
  // The fleet page reads both planes as it would read real servers: the management client, the
  // telemetry store, the registry client.
  const dashboard = await startDashboard({ management: mgmt, telemetry: store, registry, refreshMs: 500 });
  cleanups.push(() => dashboard.close());
  log(`fleet page: ${dashboard.url}`);

  // --- one key per device, registered once, in the registry --------------------------------
  const signingKey = await generateDeviceKey({ type: 'ecdsa-p256' });
  const ids = Array.from({ length: DEVICES }, (_, i) => `pump-${String(i + 1).padStart(2, '0')}`);
  const keys = new Map<string, string>();
  for (const id of ids) {
    const key = await generateDeviceKey({ type: 'ecdsa-p256' });
    keys.set(id, key.privateKeyPem);
    await registry.devices.create({ id, credentials: [toDeviceCredential(key.publicKeyPem)] });
  }
  log(`registry: created ${ids.join(', ')}, each with the public half of its one ECDSA P-256 key`);

  // --- the registry decides admission in Mender -------------------------------------------
  const report = await preauthorizeFromRegistry({ registry, mender: menderAdmission(mgmt) });
  log(`sync: ${report.counts.preauthorized} devices preauthorized in Mender with the same keys`);

  // --- the devices: OTA agent + release-tagged telemetry, one key -------------------------
  // The application's own check after the reboot into a new release; release-2.1 breaks it.
  let appHealthy = true;
  const outcomes = new Map<string, UpdateOutcome[]>();
  const agents: DeviceClient[] = [];
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  for (const [n, id] of ids.entries()) {
    const dataDir = join(work, id);
    const sim = new SimulatedInstaller({ dir: join(dataDir, 'slots') });
    const privateKey = keys.get(id) as string;
    const agent: DeviceClient = new DeviceClient({
      serverUrl: mender.url,
      privateKey,
      identity: { device_id: id },
      deviceType: DEVICE_TYPE,
      dataDir,
      installers: [sim],
      policy: { trustedKeys: [signingKey.publicKeyPem] },
      healthChecks: [
        {
          name: 'app',
          check: () => appHealthy,
          timeoutMs: 5_000,
        },
      ],
      poll: {
        updateIntervalMs: 1_000,
        inventoryIntervalMs: 60_000,
        retry: { baseDelayMs: 1_000, maxDelayMs: 2_000 },
      },
    });
    agent.events.on('auth:accepted', () => log(`${id}: authenticated to Mender (preauthorized key)`));
    agent.events.on('update:done', (e) => {
      outcomes.set(id, [...(outcomes.get(id) ?? []), e.outcome]);
      log(`${id}: update ${e.outcome}${e.error ? ` (${e.error.split('\n')[0]})` : ''}`);
    });
    const device = new IotCoreDevice({ ...REGISTRY, deviceId: id, privateKey, mqttUrl: iot.mqttUrl ?? '' });
    // Each release runs a little differently: the telemetry is what tells them apart.
    const temperature = async () => {
      const release = (await agent.installed()).artifactName;
      const base = release === 'release-2.0' ? 46 : release === 'release-2.2' ? 62 : 52;
      return { cpu_temp: Math.round((base + n + Math.random() * 2) * 10) / 10 };
    };
    const telemetry = new DeviceTelemetry({ device, agent, intervalMs: 300, metrics: temperature, dataDir });
    agents.push(agent);
    cleanups.push(
      () => telemetry.stop(),
      () => device.close(),
      () => agent.close(),
    );
    await telemetry.start();
    running.push(agent.run({ signal: stop.signal }));
  }
  log(`devices: ${DEVICES} agents running; telemetry over MQTT with JWTs minted from the same keys`);

  const seenRelease = async (release: string) => {
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const latest = new Map<string, string>();
      for (const m of iot.telemetry) {
        const body = JSON.parse(m.data.toString('utf8')) as { artifact_name?: string };
        if (body.artifact_name) latest.set(m.deviceId, body.artifact_name);
      }
      if (ids.every((id) => latest.get(id) === release)) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  };

  async function upload(name: string, version: string): Promise<void> {
    const image = join(work, `${name}.img`);
    await writeFile(image, randomBytes(512 * 1024));
    const path = join(work, `${name}.mender`);
    await writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: name,
        deviceTypes: [DEVICE_TYPE],
        provides: { 'rootfs-image.version': version },
        files: [image],
        signingKey: signingKey.privateKeyPem,
      },
      path,
    );
    await mgmt.artifacts.upload(path);
  }

  async function deploy(name: string, version: string): Promise<{ success: number; failure: number }> {
    await upload(name, version);
    const menderIds: string[] = [];
    for await (const d of mgmt.devices.list({ status: 'accepted' })) if (d.id) menderIds.push(d.id);
    const id = await mgmt.deployments.create({
      name: `deploy ${name}`,
      artifactName: name,
      devices: menderIds,
    });
    log(`server: signed ${name} uploaded; deployment ${id} to ${menderIds.length} devices`);
    const { statistics } = await mgmt.deployments.waitFor(id, {
      interval: 250,
      maxInterval: 1000,
      signal: AbortSignal.timeout(90_000),
    });
    const s = statistics as { success?: number; failure?: number };
    log(`server: deployment ${id} finished: ${s.success ?? 0} success, ${s.failure ?? 0} failure`);
    return { success: s.success ?? 0, failure: s.failure ?? 0 };
  }

  log('--- act 1: release-1.0 everywhere ---');
  const act1 = await deploy('release-1.0', '1.0.0');
  const saw1 = await seenRelease('release-1.0');
  log(`telemetry: every device reports release-1.0: ${saw1}`);

  log('--- act 2: release-2.0, which runs cooler ---');
  const act2 = await deploy('release-2.0', '2.0.0');
  const saw2 = await seenRelease('release-2.0');
  log(`telemetry: every device reports release-2.0: ${saw2}`);

  log('--- act 3: release-2.1 fails its health check: the devices roll back ---');
  appHealthy = false;
  const act3 = await deploy('release-2.1', '2.1.0');
  const saw3 = await seenRelease('release-2.0');
  log(`telemetry: every device is back on release-2.0: ${saw3}`);
  // The state reports carried the deployment while it ran: the data plane saw it happen.
  // (A state report goes out at most once a second, as IoT Core allows, so the last may lag.)
  const statuses = () => [
    ...new Set(
      iot.states
        .filter((s) => s.deviceId === ids[0])
        .map((s) => (JSON.parse(s.data.toString('utf8')) as { deployment_status?: string }).deployment_status)
        .filter((s) => s !== undefined),
    ),
  ];
  for (let i = 0; i < 50 && !statuses().includes('failure'); i++)
    await new Promise((r) => setTimeout(r, 200));
  const seenStatuses = statuses();
  log(`telemetry: ${ids[0]}'s state reports followed its deployments: ${seenStatuses.join(' -> ')}`);

  log('--- act 4: release-2.2 runs hot; the rollout is gated on the telemetry ---');
  appHealthy = true;
  await upload('release-2.2', '2.2.0');
  const menderIds: string[] = [];
  for await (const d of mgmt.devices.list({ status: 'accepted' })) if (d.id) menderIds.push(d.id);
  menderIds.sort();
  const rollout = mgmt.rollout({
    artifactName: 'release-2.2',
    devices: menderIds,
    phases: [{ count: 1, soak: 3_000 }, {}],
    gates: [parseGate('cpu_temp:mean:+10%@3')],
    // Telemetry knows a device by its registry id: the Mender identity's device_id.
    health: releaseHealthSource(store, { deviceIdsOf: telemetryDeviceIds(mgmt.devices) }),
    onRegression: 'abort-and-rollback',
    pollInterval: 250,
  });
  rollout.on('phase:start', (e) => log(`rollout: phase ${e.phase + 1} on ${e.devices} device(s)`));
  rollout.on('gate:decision', (e) => {
    for (const d of e.decisions) {
      log(
        `rollout: gate ${d.gate}: ${d.verdict}: canary ${d.updated.value?.toFixed(1)} (${d.updated.samples} samples) vs rest ${d.baseline?.value?.toFixed(1)} (${d.baseline?.samples} samples), limit ${d.limit?.toFixed(1)}`,
      );
    }
  });
  rollout.on('rollback:start', (e) =>
    log(
      `rollout: rolling back ${e.deployments.map((d) => `${d.devices} device(s) to ${d.artifactName}`).join(', ')}`,
    ),
  );
  const gated = await rollout;
  log(
    `rollout: ${gated.status}${gated.reason ? ` (${gated.reason})` : ''}; rollback ${gated.state.rollback?.status}`,
  );
  const releasesAfter = await Promise.all(agents.map(async (a) => (await a.installed()).artifactName));
  log(`devices now run: ${releasesAfter.join(', ')}`);
  const saw4 = await seenRelease('release-2.0');

  if (keep) {
    log(`--keep: everything stays up; the fleet page is ${dashboard.url}. Ctrl+C to stop.`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  stop.abort();
  await Promise.all(running);

  // --- what the data plane saw, per release: read from the telemetry store ---------------
  const summary = await store.releaseAggregates({ metric: 'cpu_temp', kind: 'event' });
  log('telemetry summary (cpu_temp by release, from the store):');
  log('  release        messages   mean    p95    max');
  for (const r of summary) {
    log(
      `  ${String(r.release).padEnd(14)} ${String(r.count).padStart(8)} ${r.mean.toFixed(1).padStart(6)} ${r.p95.toFixed(1).padStart(6)} ${r.max.toFixed(1).padStart(6)}`,
    );
  }

  ok =
    report.counts.preauthorized === DEVICES &&
    act1.success === DEVICES &&
    act2.success === DEVICES &&
    act3.failure === DEVICES &&
    saw1 &&
    saw2 &&
    saw3 &&
    seenStatuses.includes('failure') &&
    gated.status === 'aborted' &&
    gated.reason === 'regression' &&
    gated.state.rollback?.status === 'succeeded' &&
    releasesAfter.every((r) => r === 'release-2.0') &&
    saw4 &&
    summary.some((r) => r.release === 'release-2.2') &&
    ids.every((id) => (outcomes.get(id) ?? []).slice(0, 3).join(',') === 'success,success,failure');
  log(
    ok
      ? 'demo complete: one key per device for both planes; telemetry followed every update and the rollback'
      : 'demo FAILED: the story did not go as told',
  );
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await mender.close();
  await store.close();
  await rm(work, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
