/**
 * The management commands (login, devices, artifacts, deploy, rollout) run in-process through
 * `main(argv)` against a sandbox over real HTTP.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeviceKey, generateDeviceKey, signMenderRequest, writeArtifact } from '@otakit/core';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Run, run as runCli } from './helpers.js';

let sandbox: Sandbox;
let dir: string;
let token: string;
let key: DeviceKey;
let pubkeyFile: string;

/** {@link runCli}, then clears `process.exitCode` so a failed command does not leak into the next run. */
async function run(...argv: string[]): Promise<Run> {
  try {
    return await runCli(...argv);
  } finally {
    process.exitCode = undefined;
  }
}

/** Runs with --server and --token. */
const runAuthed = (...argv: string[]) => run(...argv, '--server', sandbox.url, '--token', token);

/** A fake device over the device API. */
async function deviceAuth(identity: Record<string, string>): Promise<{ status: number; token: string }> {
  const body = JSON.stringify({ id_data: JSON.stringify(identity), pubkey: key.publicKeyPem });
  const res = await request(`${sandbox.url}/api/devices/v1/authentication/auth_requests`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-men-signature': signMenderRequest(body, key.privateKey),
    },
  });
  return { status: res.statusCode, token: await res.body.text() };
}

async function deviceCall(deviceToken: string, method: 'GET' | 'PUT', path: string, json?: unknown) {
  const res = await request(`${sandbox.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** Takes a device through a deployment to `outcome`. */
async function finishDeployment(deviceToken: string, outcome: 'success' | 'failure'): Promise<string> {
  const next = await deviceCall(
    deviceToken,
    'GET',
    '/api/devices/v1/deployments/device/deployments/next?artifact_name=factory&device_type=cli-test',
  );
  expect(next.status).toBe(200);
  const id = (JSON.parse(next.text) as { id: string }).id;
  for (const status of ['downloading', 'installing', outcome]) {
    const r = await deviceCall(
      deviceToken,
      'PUT',
      `/api/devices/v1/deployments/device/deployments/${id}/status`,
      {
        status,
      },
    );
    if (r.status === 409) break;
  }
  return id;
}

async function makeArtifact(name: string): Promise<string> {
  const path = join(dir, `${name}.mender`);
  await writeArtifact(
    {
      type: 'module-image',
      moduleType: 'single-file',
      artifactName: name,
      deviceTypes: ['cli-test'],
      files: [{ name: 'f.bin', content: new Uint8Array(4096) }],
    },
    path,
  );
  return path;
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-mgmt-'));
  key = await generateDeviceKey({ type: 'ed25519' });
  pubkeyFile = join(dir, 'device.pub.pem');
  await writeFile(pubkeyFile, key.publicKeyPem);
  token = sandbox.managementToken();
});

beforeEach(() => {
  vi.stubEnv('OTAKIT_CONFIG', join(dir, 'config.json'));
  vi.stubEnv('OTAKIT_SERVER', '');
  vi.stubEnv('OTAKIT_TOKEN', '');
  return () => vi.unstubAllEnvs();
});

afterAll(async () => {
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('otakit login', () => {
  it('prints the token', async () => {
    const res = await run(
      'login',
      '--server',
      sandbox.url,
      '--email',
      sandbox.adminEmail,
      '--password',
      sandbox.adminPassword,
    );
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('saves the token in a 0600 config file that later calls read', async () => {
    const config = join(dir, 'saved.json');
    vi.stubEnv('OTAKIT_CONFIG', config);
    const res = await run(
      'login',
      '--save',
      '--server',
      sandbox.url,
      '--email',
      sandbox.adminEmail,
      '--password',
      sandbox.adminPassword,
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(config);
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(config, 'utf8')) as { server: string; token: string };
    expect(saved.server).toBe(sandbox.url);
    expect(res.stdout).not.toContain(saved.token);
    const list = await run('devices', 'list', '--json');
    expect(list.code).toBe(0);
    expect(Array.isArray(JSON.parse(list.stdout))).toBe(true);
  });

  it('fails with a clear message on a wrong password', async () => {
    const res = await run(
      'login',
      '--server',
      sandbox.url,
      '--email',
      sandbox.adminEmail,
      '--password',
      'wrong',
    );
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/^otakit: .*401/);
    expect(res.stderr).not.toContain('    at ');
    expect(res.stderr).not.toContain('wrong');
  });
});

describe('otakit devices', () => {
  it('explains a missing server or token without a stack trace', async () => {
    const noServer = await run('devices', 'list');
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toContain('no server');
    const noToken = await run('devices', 'list', '--server', sandbox.url);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('no token');
    expect(noToken.stderr).not.toContain('    at ');
  });

  it('never prints the token when it is refused', async () => {
    const res = await run('devices', 'list', '--server', sandbox.url, '--token', 'bogus-secret-token');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('401');
    expect(res.stderr + res.stdout).not.toContain('bogus-secret-token');
  });

  it('reads the server and token from OTAKIT_SERVER and OTAKIT_TOKEN', async () => {
    vi.stubEnv('OTAKIT_SERVER', sandbox.url);
    vi.stubEnv('OTAKIT_TOKEN', token);
    const res = await run('devices', 'list', '--json');
    expect(res.code).toBe(0);
  });

  it('takes --server and --token as global options before the command', async () => {
    const res = await run('--server', sandbox.url, '--token', token, 'devices', 'list', '--json');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(Array.isArray(JSON.parse(res.stdout))).toBe(true);
    // Without them the same command is refused: the global options really carried the connection.
    const bare = await run('devices', 'list', '--json');
    expect(bare.code).not.toBe(0);
    expect(bare.stderr).toMatch(/no server/);
  });

  it('preauthorizes (idempotently with --if-exists) and lists devices as a table or JSON', async () => {
    const first = await runAuthed(
      'devices',
      'preauthorize',
      '--identity',
      'mac=cc:01',
      '--identity',
      'sku=box',
      '--pubkey',
      pubkeyFile,
    );
    expect(first.code).toBe(0);
    const id = first.stdout.trim();
    expect(id).not.toBe('');
    const conflict = await runAuthed(
      'devices',
      'preauthorize',
      '--identity',
      'mac=cc:01',
      '--identity',
      'sku=box',
      '--pubkey',
      pubkeyFile,
    );
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain('409');
    const again = await runAuthed(
      'devices',
      'preauthorize',
      '--identity',
      'mac=cc:01',
      '--identity',
      'sku=box',
      '--pubkey',
      pubkeyFile,
      '--if-exists',
      '--json',
    );
    expect(JSON.parse(again.stdout)).toEqual({ id, created: false });

    const json = await runAuthed('devices', 'list', '--status', 'preauthorized', '--json');
    const devices = JSON.parse(json.stdout) as Array<{ id: string; identity_data: unknown }>;
    expect(devices.find((d) => d.id === id)?.identity_data).toEqual({ mac: 'cc:01', sku: 'box' });
    const table = await runAuthed('devices', 'list');
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+IDENTITY/);
    expect(table.stdout).toContain(id);

    const badStatus = await runAuthed('devices', 'list', '--status', 'sleeping');
    expect(badStatus.code).not.toBe(0);
    const badIdentity = await runAuthed(
      'devices',
      'preauthorize',
      '--identity',
      'novalue',
      '--pubkey',
      pubkeyFile,
    );
    expect(badIdentity.code).toBe(1);
    expect(badIdentity.stderr).toContain('key=value');
    const noFile = await runAuthed(
      'devices',
      'preauthorize',
      '--identity',
      'a=b',
      '--pubkey',
      join(dir, 'missing.pem'),
    );
    expect(noFile.stderr).toContain('cannot read --pubkey');
  });

  it('preauthorizes identity attributes named __proto__, constructor and prototype as given', async () => {
    const other = await generateDeviceKey({ type: 'ed25519' });
    const otherFile = join(dir, 'proto-device.pub.pem');
    await writeFile(otherFile, other.publicKeyPem);
    const created = await runAuthed(
      'devices',
      'preauthorize',
      ...['--identity', '__proto__=x', '--identity', 'constructor=y', '--identity', 'prototype=z'],
      ...['--pubkey', otherFile],
    );
    expect(created.code).toBe(0);
    const id = created.stdout.trim();
    const json = await runAuthed('devices', 'list', '--status', 'preauthorized', '--json');
    const devices = JSON.parse(json.stdout) as Array<{ id: string; identity_data: Record<string, string> }>;
    const identity = devices.find((d) => d.id === id)?.identity_data ?? {};
    expect(Object.entries(identity)).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
      ['prototype', 'z'],
    ]);
  });

  it('accepts, rejects and decommissions devices', async () => {
    expect((await deviceAuth({ mac: 'dd:01' })).status).toBe(401);
    const pending = JSON.parse(
      (await runAuthed('devices', 'list', '--status', 'pending', '--json')).stdout,
    ) as Array<{
      id: string;
    }>;
    const id = pending[0]?.id as string;
    const accept = await runAuthed('devices', 'accept', id);
    expect(accept).toMatchObject({ code: 0, stdout: `${id}: accepted\n` });
    expect((await deviceAuth({ mac: 'dd:01' })).status).toBe(200);
    expect((await runAuthed('devices', 'reject', id, '--json')).stdout).toContain('"reject"');
    expect((await deviceAuth({ mac: 'dd:01' })).status).toBe(401);
    expect((await runAuthed('devices', 'decommission', id)).stdout).toBe(`${id}: decommissioned\n`);
    const missing = await runAuthed('devices', 'accept', id);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
  });
});

describe('otakit artifacts, deploy and rollout', () => {
  it('uploads and lists artifacts', async () => {
    const path = await makeArtifact('cli-app-1');
    const up = await runAuthed('artifacts', 'upload', path, '--description', 'from the cli');
    expect(up.code).toBe(0);
    const id = up.stdout.trim();
    const list = JSON.parse((await runAuthed('artifacts', 'list', '--json')).stdout) as Array<{
      id: string;
      name: string;
      description: string;
    }>;
    expect(list.find((a) => a.id === id)).toMatchObject({ name: 'cli-app-1', description: 'from the cli' });
    expect((await runAuthed('artifacts', 'list')).stdout).toMatch(/^ID\s+NAME/);
    const missing = await runAuthed('artifacts', 'upload', join(dir, 'nope.mender'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
  });

  it('creates, inspects, waits for and aborts deployments', async () => {
    const d1 = await deviceAuthAccepted({ mac: 'ee:01' });
    const d2 = await deviceAuthAccepted({ mac: 'ee:02' });
    const bad = await runAuthed('deploy', 'create', '--name', 'x', '--artifact', 'cli-app-1');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('exactly one of --devices, --group, --all');

    const created = await runAuthed(
      'deploy',
      'create',
      '--name',
      'cli',
      '--artifact',
      'cli-app-1',
      '--devices',
      `${d1.id},${d2.id}`,
    );
    expect(created.code).toBe(0);
    const depId = created.stdout.trim();
    const status = JSON.parse((await runAuthed('deploy', 'status', depId, '--json')).stdout) as {
      id: string;
      status: string;
      statistics: Record<string, number>;
    };
    expect(status).toMatchObject({ id: depId, name: 'cli' });
    expect(status.statistics.pending).toBe(2);
    expect((await runAuthed('deploy', 'status', depId)).stdout).toContain('pending');

    await finishDeployment(d1.token, 'success');
    await finishDeployment(d2.token, 'failure');
    const wait = await runAuthed('deploy', 'wait', depId, '--interval', '5');
    expect(wait.code).toBe(3); // a device failed
    expect(wait.stdout).toBe(`${depId}: finished, 1 succeeded, 1 failed\n`);

    const all = await runAuthed(
      'deploy',
      'create',
      '--name',
      'all',
      '--artifact',
      'cli-app-1',
      '--all',
      '--force',
      '--json',
    );
    const allDep = JSON.parse(all.stdout) as { id: string; device_count: number };
    expect(allDep.device_count).toBe(2);
    expect((await runAuthed('deploy', 'abort', allDep.id)).stdout).toBe(`${allDep.id}: aborted\n`);
    const waited = await runAuthed('deploy', 'wait', allDep.id, '--interval', '5', '--json');
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout).statistics.aborted).toBe(2);
  });

  it('runs a rollout that aborts when failures cross the threshold', async () => {
    const devices = [];
    for (let i = 0; i < 4; i++) devices.push(await deviceAuthAccepted({ mac: `ff:0${i}` }));
    const state = join(dir, 'rollout.json');
    const invalid = await runAuthed(
      'rollout',
      '--artifact',
      'cli-app-1',
      '--devices',
      'a',
      '--phase',
      'half',
    );
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('--phase');

    const rollout = runAuthed(
      'rollout',
      '--artifact',
      'cli-app-1',
      '--devices',
      devices.map((d) => d.id).join(','),
      '--phase',
      '2',
      '--phase',
      'rest',
      '--max-failure-rate',
      '0.4',
      '--min-finished',
      '2',
      '--poll-interval',
      '10ms',
      '--state',
      state,
      '--json',
    );
    // Both devices of the first phase fail as soon as the deployment reaches them.
    for (const d of devices.slice(0, 2)) {
      for (;;) {
        const next = await deviceCall(
          d.token,
          'GET',
          '/api/devices/v1/deployments/device/deployments/next?artifact_name=factory&device_type=cli-test',
        );
        if (next.status === 200) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await finishDeployment(d.token, 'failure');
    }
    const res = await rollout;
    expect(res.code).toBe(3);
    const final = JSON.parse(res.stdout) as {
      status: string;
      reason: string;
      phases: Array<{ deploymentId?: string }>;
    };
    expect(final).toMatchObject({ status: 'aborted', reason: 'failure-rate' });
    expect(final.phases[1]?.deploymentId).toBeUndefined();
    expect(JSON.parse(await readFile(state, 'utf8')).status).toBe('aborted');
  });
});

async function deviceAuthAccepted(identity: Record<string, string>): Promise<{ id: string; token: string }> {
  const pre = await runAuthed(
    'devices',
    'preauthorize',
    ...Object.entries(identity).flatMap(([k, v]) => ['--identity', `${k}=${v}`]),
    '--pubkey',
    pubkeyFile,
  );
  expect(pre.code).toBe(0);
  const auth = await deviceAuth(identity);
  expect(auth.status).toBe(200);
  return { id: pre.stdout.trim(), token: auth.token };
}
