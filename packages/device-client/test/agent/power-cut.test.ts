import { spawn } from 'node:child_process';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvidesStore, SimulatedInstaller, StateStore } from '../../src/index.js';
import { deviceKey, Mgmt, makeArtifact } from './sandbox-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../../..');
const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
const child = join(here, 'fixtures', 'agent-child.ts');
const childTsconfig = join(here, 'fixtures', 'tsconfig.json');

let sandbox: Sandbox;
let mgmt: Mgmt;
let counter = 0;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  mgmt = new Mgmt(sandbox);
});
afterAll(async () => {
  await sandbox.close();
});

interface ChildRun {
  code: number | null;
  killed: boolean;
  events: { event: string; [k: string]: unknown }[];
}

function runChild(configPath: string): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(tsx, ['--tsconfig', childTsconfig, child, configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ChildRun['events'][number]);
      // tsx runs the script in a node child and exits with 128 + 9 when that child is SIGKILLed.
      const killed = signal === 'SIGKILL' || code === 137;
      if (code !== 0 && !killed) reject(new Error(`child failed (${code}): ${stderr}`));
      else resolvePromise({ code, killed, events });
    });
  });
}

/** A device with one pending deployment; the agent child is killed at `killAt`, then started again. */
async function scenario(killAt: string, opts: { healthFail?: boolean; size?: number } = {}) {
  const n = ++counter;
  const key = await deviceKey();
  const dataDir = await mkdtemp(join(tmpdir(), 'otakit-pc-'));
  const deviceDir = join(dataDir, 'device');
  const identity = { serial: `power-cut-${n}-${Date.now()}` };
  const deviceId = await mgmt.preauthorize(identity, key.publicKeyPem);
  const name = `pc-release-${n}`;
  const art = await makeArtifact({ name, size: opts.size ?? 256 * 1024 });
  await mgmt.upload(art.path);
  const deploymentId = await mgmt.deploy(name, [deviceId]);
  const configPath = join(dataDir, 'child.json');
  const base = {
    serverUrl: sandbox.url,
    privateKeyPem: key.privateKeyPem,
    identity,
    dataDir,
    deviceDir,
    healthFail: opts.healthFail ?? false,
  };
  await writeFile(configPath, JSON.stringify({ ...base, killAt }));
  const first = await runChild(configPath);
  // The state file is never torn: it is absent or a complete record.
  const afterKill = await new StateStore(dataDir).load();
  // What the killed agent had staged of the download, besides the slot.
  const partBytes = await stat(join(dataDir, 'download', 'artifact.part')).then(
    (st) => st.size,
    () => 0,
  );
  await writeFile(configPath, JSON.stringify(base));
  const second = await runChild(configPath);
  const sim = new SimulatedInstaller({ dir: deviceDir });
  return {
    name,
    first,
    second,
    afterKill,
    partBytes,
    installed: await new ProvidesStore(dataDir).read(),
    state: await new StateStore(dataDir).load(),
    serverStatus: await mgmt.deviceStatus(deploymentId, deviceId),
    booted: (await sim.bootState()).booted,
    content: await sim.currentContent(),
    image: art.image,
  };
}

const successKills = [
  'state:Download',
  'state:ArtifactInstall',
  'state:ArtifactReboot',
  'state:ArtifactVerifyReboot',
  'state:ArtifactCommit',
  'state:Cleanup',
  'state:ReportStatus',
  'download:before',
  'download:after',
  'install:before',
  'install:after',
  'reboot:after',
  'verifyReboot:after',
  'commit:before',
  'commit:after',
  'cleanup:after',
];

describe.concurrent('power cuts: the agent is SIGKILLed and started again', { timeout: 180_000 }, () => {
  for (const killAt of successKills) {
    it(`ends committed on the new image after a kill at ${killAt}`, async () => {
      const r = await scenario(killAt);
      expect(r.first.killed).toBe(true);
      expect(r.first.events.at(-1)?.event).toBe('killed');
      expect(r.second.events.at(-1)).toMatchObject({ event: 'done', outcome: 'success' });
      expect(r.state).toBeUndefined();
      expect(r.installed.artifactName).toBe(r.name);
      expect(r.serverStatus).toBe('success');
      expect(r.booted).toBe('b');
      expect(Object.values(r.content)[0]?.equals(r.image)).toBe(true);
    });
  }

  for (const fraction of [0.1, 0.5, 0.9]) {
    it(`resumes the download after a kill at ${fraction * 100} % of the bytes`, async () => {
      const size = 8 * 1024 * 1024;
      const r = await scenario(`download:${Math.floor(size * fraction)}`, { size });
      expect(r.first.killed).toBe(true);
      expect(r.second.events.at(-1)).toMatchObject({ event: 'done', outcome: 'success' });
      // The restarted agent replayed the staged bytes from disk (the payload's from the slot it
      // was written to) and fetched only the rest. What is lost is what was not durable at the
      // kill: a checkpoint interval (64 KiB here) plus the bytes in flight between the download
      // and the slot (the reader's 256 KiB payload buffer and a network chunk or two).
      const fetched = r.second.events.at(-1)?.networkBytes as number;
      expect(fetched).toBeLessThan(size * (1 - fraction) + 768 * 1024);
      // No second copy: the staging file holds the artifact's headers, not the payload.
      expect(r.partBytes).toBeLessThan(64 * 1024);
      expect(Object.values(r.content)[0]?.equals(r.image)).toBe(true);
      expect(r.installed.artifactName).toBe(r.name);
      expect(r.serverStatus).toBe('success');
    });
  }

  for (let i = 0; i < 3; i++) {
    it(`ends on the new or the old image, consistently, after a kill at a random point of the download or install (#${i + 1})`, async () => {
      const size = 1024 * 1024;
      const steps = ['download', 'install', 'needsReboot', 'reboot', 'verifyReboot', 'commit', 'cleanup'];
      const killAt =
        Math.random() < 0.5
          ? `download:${Math.floor(Math.random() * size)}`
          : `${steps[Math.floor(Math.random() * steps.length)]}:${Math.random() < 0.5 ? 'before' : 'after'}`;
      const r = await scenario(killAt, { size });
      const where = `kill point ${killAt}`;
      expect(r.first.killed, where).toBe(true);
      expect(r.state, where).toBeUndefined();
      const done = r.second.events.at(-1);
      expect(done?.event, where).toBe('done');
      // Committed on the new image, or back on the old one, and the server agrees either way.
      if (done?.outcome === 'success') {
        expect([r.installed.artifactName, r.serverStatus, r.booted], where).toEqual([r.name, 'success', 'b']);
      } else {
        expect([done?.outcome, r.installed.artifactName, r.serverStatus, r.booted], where).toEqual([
          'failure',
          'unknown',
          'failure',
          'a',
        ]);
      }
    });
  }

  it('rolls back when the process died after storing the reboot but before rebooting', async () => {
    // Nothing rebooted: the system is still on the old image, so ArtifactVerifyReboot fails and the
    // update rolls back (as the Mender client does), instead of committing an image never booted.
    const r = await scenario('reboot:before');
    expect(r.first.killed).toBe(true);
    expect(r.second.events.at(-1)).toMatchObject({ event: 'done', outcome: 'failure' });
    expect(r.installed.artifactName).toBe('unknown');
    expect(r.serverStatus).toBe('failure');
    expect(r.booted).toBe('a');
  });

  const rollbackKills = [
    'state:ArtifactRollback',
    'state:ArtifactRollbackReboot',
    'state:ArtifactVerifyRollbackReboot',
    'state:ArtifactFailure',
    'rollback:after',
    'rollbackReboot:after',
  ];
  for (const killAt of rollbackKills) {
    it(`ends back on the old image after a kill at ${killAt} during a rollback`, async () => {
      const r = await scenario(killAt, { healthFail: true });
      expect(r.first.killed).toBe(true);
      expect(r.second.events.at(-1)).toMatchObject({ event: 'done', outcome: 'failure' });
      expect(r.state).toBeUndefined();
      expect(r.installed.artifactName).toBe('unknown');
      expect(r.serverStatus).toBe('failure');
      expect(r.booted).toBe('a');
    });
  }
});

describe('state file', () => {
  it('is a complete record at every kill point', async () => {
    const r = await scenario('state:ArtifactCommit');
    expect(r.afterKill?.state).toBe('ArtifactCommit');
    expect(r.afterKill?.artifact?.name).toBe(r.name);
    expect(r.afterKill?.installed).toBe(true);
  });
});
