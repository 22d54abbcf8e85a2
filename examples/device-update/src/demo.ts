/**
 * The otakit device update story, end to end on one machine:
 *
 * 1. start a local Mender-compatible sandbox;
 * 2. create a device key and preauthorize the device;
 * 3. run a simulated A/B device agent (DeviceClient + SimulatedInstaller);
 * 4. write, sign and upload an artifact, deploy it, and watch every step until success;
 * 5. deploy a second one whose health check fails: the device rolls back and reports failure.
 *
 * Exits 0 when the whole story happened as told. Run it with `pnpm demo` (after `pnpm build`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDeviceKey, writeArtifact, writePrivateKeyFile } from '@otakit/core';
import { DeviceClient, SimulatedInstaller, type UpdateOutcome } from '@otakit/device-client';
import { startSandbox } from '@otakit/sandbox';

const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 23)}  ${line}`);

const sandbox = await startSandbox({ port: 0 });
const work = await mkdtemp(join(tmpdir(), 'otakit-demo-'));
let ok = false;
try {
  log(`sandbox: ${sandbox.url}`);

  // Management side: log in as the sandbox admin (the real Mender login call).
  const login = await fetch(`${sandbox.url}/api/management/v1/useradm/auth/login`, {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${sandbox.adminEmail}:${sandbox.adminPassword}`)}` },
  });
  const adminToken = await login.text();
  const mgmt = async (method: string, path: string, body?: unknown, form?: FormData) => {
    const res = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    if (res.status >= 400) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res;
  };

  // The device key (what `otakit device keygen` does) and its preauthorization.
  const deviceKey = await generateDeviceKey({ type: 'ed25519' });
  await writePrivateKeyFile(join(work, 'device.pem'), deviceKey.privateKeyPem);
  const identity = { mac: '02:00:00:00:00:01' };
  const pre = await mgmt('POST', '/api/management/v2/devauth/devices', {
    identity_data: identity,
    pubkey: deviceKey.publicKeyPem,
  });
  const deviceId = pre.headers.get('location')!.split('/').pop()!;
  log(`device preauthorized: ${deviceId}`);

  // The artifact signing key: the device only installs artifacts signed with it.
  const signingKey = await generateDeviceKey({ type: 'ecdsa-p256' });

  // The simulated device: two slots in a directory, a reboot simulated in-process.
  const dataDir = join(work, 'device-data');
  const sim = new SimulatedInstaller({ dir: join(dataDir, 'device') });
  let appHealthy = true;
  const agent = new DeviceClient({
    serverUrl: sandbox.url,
    privateKey: await readFile(join(work, 'device.pem'), 'utf8'),
    identity,
    deviceType: 'demo-board',
    dataDir,
    installers: [sim],
    policy: { trustedKeys: [signingKey.publicKeyPem], minVersion: '1.0.0' },
    healthChecks: [
      { name: 'server', check: () => agent.authenticate() },
      { name: 'app', check: () => appHealthy, timeoutMs: 5_000 },
    ],
    poll: { updateIntervalMs: 1000, retry: { baseDelayMs: 1000, maxDelayMs: 2000 } },
  });
  agent.events.on('auth:accepted', () => log('device: authenticated'));
  agent.events.on(
    'update:check',
    (e) => e.deploymentId && log(`device: deployment ${e.deploymentId} (${e.artifactName})`),
  );
  agent.events.on('state:enter', (e) => log(`device: state ${e.state}`));
  agent.events.on('deployment:status', (e) =>
    log(`device: reported "${e.status}"${e.error ? ` (${e.error})` : ''}`),
  );
  agent.events.on('download:progress', (e) => {
    if (e.bytes === e.totalBytes)
      log(`device: downloaded and streamed ${e.bytes} bytes through the verifier`);
  });
  agent.events.on('health:result', (e) =>
    log(
      `device: health ${e.results.map((r) => `${r.name}=${r.ok ? 'ok' : `FAILED (${r.error})`}`).join(', ')}`,
    ),
  );
  const outcomes: Array<(o: UpdateOutcome) => void> = [];
  agent.events.on('update:done', (e) => {
    log(`device: update ${e.outcome}${e.error ? `: ${e.error}` : ''}`);
    outcomes.shift()?.(e.outcome);
  });
  const nextOutcome = () => new Promise<UpdateOutcome>((r) => outcomes.push(r));

  const stop = new AbortController();
  const running = agent.run({ signal: stop.signal });

  async function release(name: string, version: string): Promise<string> {
    const image = join(work, `${name}.img`);
    await writeFile(image, randomBytes(2 * 1024 * 1024));
    const path = join(work, `${name}.mender`);
    await writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: name,
        deviceTypes: ['demo-board'],
        provides: { 'rootfs-image.version': version },
        files: [image],
        signingKey: signingKey.privateKeyPem,
      },
      path,
    );
    const form = new FormData();
    form.append('artifact', new Blob([await readFile(path)]), `${name}.mender`);
    await mgmt('POST', '/api/management/v1/deployments/artifacts', undefined, form);
    const dep = await mgmt('POST', '/api/management/v1/deployments/deployments', {
      name: `deploy ${name}`,
      artifact_name: name,
      devices: [deviceId],
    });
    const id = dep.headers.get('location')!.split('/').pop()!;
    log(`server: signed artifact ${name} uploaded, deployment ${id} created`);
    return id;
  }
  const serverStatus = async (deploymentId: string) => {
    const res = await mgmt('GET', `/api/management/v1/deployments/deployments/${deploymentId}/devices`);
    return ((await res.json()) as { id: string; status: string }[]).find((d) => d.id === deviceId)?.status;
  };

  // Act 1: a good update.
  log('--- act 1: release-2.0 ---');
  const first = nextOutcome();
  const dep1 = await release('release-2.0', '2.0.0');
  const outcome1 = await first;
  const status1 = await serverStatus(dep1);
  const installed1 = (await agent.installed()).artifactName;
  log(
    `server: deployment ${dep1} is "${status1}"; device runs ${installed1} from slot ${await sim.activeSlot()}`,
  );

  // Act 2: the new image boots, but the application health check fails: roll back.
  log('--- act 2: release-2.1 with a failing health check ---');
  appHealthy = false;
  const second = nextOutcome();
  const dep2 = await release('release-2.1', '2.1.0');
  const outcome2 = await second;
  const status2 = await serverStatus(dep2);
  const installed2 = (await agent.installed()).artifactName;
  log(
    `server: deployment ${dep2} is "${status2}"; device still runs ${installed2} from slot ${await sim.activeSlot()}`,
  );
  const deviceLog = await (
    await mgmt('GET', `/api/management/v1/deployments/deployments/${dep2}/devices/${deviceId}/log`)
  ).text();
  log('server: the deployment log the device uploaded ends with:');
  for (const line of deviceLog.trim().split('\n').slice(-4)) log(`    ${line}`);

  stop.abort();
  await running;
  await agent.close();

  ok =
    outcome1 === 'success' &&
    status1 === 'success' &&
    installed1 === 'release-2.0' &&
    outcome2 === 'failure' &&
    status2 === 'failure' &&
    installed2 === 'release-2.0' &&
    deviceLog.includes('health check app');
  log(ok ? 'demo complete: updated, then rolled back safely' : 'demo FAILED: the story did not go as told');
} finally {
  await sandbox.close();
  await rm(work, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
