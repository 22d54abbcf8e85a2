// Power loss, not just SIGKILL: a kill keeps the page cache, a power cut does not.
//
// One real update against the sandbox is run with every file-system operation of the device
// recorded (fs-journal.ts). Then, for every prefix of that record and every crash view of it
// (crash-model.ts: only fsynced data and fsynced directory entries; metadata without data; data
// torn at a block boundary; everything), the tree a power cut would leave is rebuilt and checked:
// no torn state or JSON record, and once the key has been used it is on disk intact with mode 0600.
// Each distinct tree is then powered on (the simulated bootloader boots, as a device does) and the
// agent is started on it against a sandbox holding the server state of the deployment: it must end
// committed on the new image or back on the old one, with the server agreeing.
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '@otakit/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvidesStore, SimulatedInstaller, StateStore } from '../../src/index.js';
import { Mgmt, makeArtifact } from '../agent/sandbox-helpers.js';
import { devicePaths, keyPem, runAgent } from './agent-harness.js';
import {
  CRASH_VIEWS,
  CrashModel,
  type CrashView,
  type FlatTree,
  materialize,
  readTree,
  treeDigest,
} from './crash-model.js';
import { FsJournal, type FsOp } from './fs-journal.js';

const KEY_IN_USE = 'key-in-use';
/** Distinct crash trees restarted per scenario besides those at durability boundaries (see pick). */
const SPREAD = Number(process.env.OTAKIT_POWER_LOSS_SPREAD ?? 40);
const CONCURRENCY = 6;

// The replay needs the file-system semantics, not durability: on tmpfs (where fsync costs nothing)
// when the machine has one, so hundreds of restarts do not queue on a shared disk.
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const scratch: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(SCRATCH, prefix));
  scratch.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

interface Recording {
  name: string;
  image: Buffer;
  serial: string;
  deviceId: string;
  deploymentId: string;
  healthFail: boolean;
  root: string;
  ops: FsOp[];
  journal: FsJournal;
  /** The sandbox's data directory with the device admitted and the deployment pending. */
  serverSnapshot: string;
  key: string;
  outcome: string;
}

/** Records one update of a new device, from its first boot (key creation) to the end of the update. */
async function record(healthFail: boolean): Promise<Recording> {
  const root = await tempDir('otakit-pl-dev-');
  const serverDir = await tempDir('otakit-pl-srv-');
  const serverSnapshot = await tempDir('otakit-pl-snap-');
  const artDir = await tempDir('otakit-pl-art-');
  const serial = `power-loss-${healthFail ? 'rollback' : 'commit'}-${Date.now()}`;
  const name = `pl-release-${healthFail ? 'rollback' : 'commit'}`;
  // 40 KiB: a download spanning several checkpoints and blocks, small enough to restart hundreds of times.
  const art = await makeArtifact({ name, size: 40 * 1024 + 123, dir: artDir });

  const journal = new FsJournal(root);
  await journal.start();
  try {
    const { loadOrCreateDeviceKey } = await import('@otakit/core');
    const key = await loadOrCreateDeviceKey(devicePaths(root).keyPath, { type: 'ed25519' });
    // From here the device authenticates with this key: losing it loses the device's identity.
    journal.mark(KEY_IN_USE);

    let sandbox = await startSandbox({ port: 0, dataDir: serverDir });
    const mgmt = new Mgmt(sandbox);
    const deviceId = await mgmt.preauthorize({ serial }, key.publicKeyPem);
    await mgmt.upload(art.path);
    const deploymentId = await mgmt.deploy(name, [deviceId]);
    await sandbox.close();
    await cp(serverDir, serverSnapshot, { recursive: true });
    sandbox = await startSandbox({ port: 0, dataDir: serverDir });
    try {
      const run = await runAgent(root, { serverUrl: sandbox.url, serial, healthFail });
      journal.stop();
      return {
        name,
        image: art.image,
        serial,
        deviceId,
        deploymentId,
        healthFail,
        root,
        ops: journal.ops,
        journal,
        serverSnapshot,
        key: (await keyPem(root))!,
        outcome: run.outcome,
      };
    } finally {
      await sandbox.close();
    }
  } finally {
    journal.stop();
  }
}

/** A crash tree and where it first appeared. */
interface CrashState {
  prefix: number;
  view: CrashView;
  tree: FlatTree;
}

/** Problems a crash tree shows before anything restarts on it. */
function staticProblems(rec: Recording, tree: FlatTree, keyInUse: boolean): string[] {
  const problems: string[] = [];
  for (const [path, file] of tree.files) {
    const base = path.split('/').pop()!;
    // Temporary files of an atomic write may be torn: they are never read.
    if (base.startsWith('.') && base.endsWith('.tmp')) continue;
    if (base.endsWith('.json')) {
      try {
        JSON.parse(file.data.toString('utf8'));
      } catch {
        problems.push(`${path} is torn (${file.data.length} bytes, not JSON)`);
      }
    }
  }
  const key = tree.files.get('data/device.key');
  if (key !== undefined && key.data.toString('utf8') !== rec.key) problems.push('data/device.key is corrupt');
  if (key !== undefined && key.mode !== 0o600)
    problems.push(`data/device.key has mode ${key.mode.toString(8)}`);
  if (keyInUse && key === undefined) problems.push('data/device.key is lost after the device used it');
  return problems;
}

/** Replays every prefix under every view; returns the distinct trees and every static problem. */
function replay(rec: Recording): { states: CrashState[]; problems: string[]; perKind: Map<string, number> } {
  const model = new CrashModel(rec.root);
  const seen = new Map<string, CrashState>();
  const problems: string[] = [];
  const perKind = new Map<string, number>();
  let keyInUse = false;
  for (let prefix = 0; prefix <= rec.ops.length; prefix++) {
    if (prefix > 0) {
      const op = rec.ops[prefix - 1]!;
      model.apply(op);
      perKind.set(op.kind, (perKind.get(op.kind) ?? 0) + 1);
      if (op.kind === 'mark' && op.label === KEY_IN_USE) keyInUse = true;
    }
    for (const view of CRASH_VIEWS) {
      const tree = model.view(view);
      for (const p of staticProblems(rec, tree, keyInUse)) {
        problems.push(
          `cut after op ${prefix} (${view}): ${p}\n${rec.journal.describe(Math.max(0, prefix - 8), prefix)}`,
        );
      }
      const digest = treeDigest(tree);
      if (!seen.has(digest)) seen.set(digest, { prefix, view, tree });
    }
  }
  return { states: [...seen.values()], problems, perKind };
}

/** Operations after which durability changes: every crash tree right after one is restarted. */
const BOUNDARIES = new Set<FsOp['kind']>(['fsync', 'dirfsync', 'rename', 'link', 'unlink', 'rmtree']);

/**
 * Picks the trees to restart, deterministically: every tree first seen right after an fsync,
 * directory fsync, rename, link or unlink (under any view), the first tree after each kind of
 * operation under each view, and an even spread of SPREAD of the others (all when fewer).
 */
function pick(rec: Recording, states: CrashState[]): CrashState[] {
  const must = new Set<CrashState>();
  const kindsSeen = new Set<string>();
  for (const s of states) {
    const op = rec.ops[s.prefix - 1];
    if (op === undefined) continue;
    const key = `${op.kind}/${s.view}`;
    if (BOUNDARIES.has(op.kind) || !kindsSeen.has(key)) must.add(s);
    kindsSeen.add(key);
  }
  const rest = states.filter((s) => !must.has(s));
  const room = Math.min(rest.length, SPREAD);
  const step = rest.length / Math.max(1, room);
  const spread = Array.from({ length: room }, (_, i) => rest[Math.floor(i * step)]!);
  return [...must, ...spread].sort((a, b) => a.prefix - b.prefix);
}

/** Powers the crash tree on and runs the agent; returns what is wrong with where it ended. */
async function restart(rec: Recording, state: CrashState): Promise<string | undefined> {
  const where = `cut after op ${state.prefix} (${state.view})`;
  if (!state.tree.files.has('data/device.key')) {
    // Not provisioned yet: the device never used a key, so there is nothing to continue.
    return rec.ops.slice(0, state.prefix).some((o) => o.kind === 'mark') ? `${where}: no key` : undefined;
  }
  const root = await tempDir('otakit-pl-cut-');
  await materialize(state.tree, root);
  const { dataDir, deviceDir } = devicePaths(root);
  // Power on: the bootloader boots (counting a trial boot, reverting past the limit).
  await new SimulatedInstaller({ dir: deviceDir }).bootloader.boot();
  const serverDir = await tempDir('otakit-pl-srv-');
  await cp(rec.serverSnapshot, serverDir, { recursive: true });
  const sandbox = await startSandbox({ port: 0, dataDir: serverDir });
  try {
    const run = await runAgent(root, {
      serverUrl: sandbox.url,
      serial: rec.serial,
      healthFail: rec.healthFail,
    });
    const sim = new SimulatedInstaller({ dir: deviceDir });
    const boot = await sim.bootState();
    const content = Object.values(await sim.currentContent());
    const installed = (await new ProvidesStore(dataDir).read()).artifactName;
    const state = await new StateStore(dataDir).load();
    const server = await new Mgmt(sandbox).deviceStatus(rec.deploymentId, rec.deviceId);
    const committedNew =
      installed === rec.name &&
      content.length === 1 &&
      content[0]!.equals(rec.image) &&
      (server === 'success' || server === 'already-installed');
    const backOnOld = installed === 'unknown' && content.length === 0 && server === 'failure';
    const settled = state === undefined && !boot.upgradeAvailable;
    if (settled && (rec.healthFail ? backOnOld : committedNew || backOnOld)) return undefined;
    return `${where}: agent ${run.outcome}${run.error ? ` (${run.error})` : ''} via ${run.states.join('>')}; installed=${installed} slot=${boot.booted} trial=${boot.upgradeAvailable} state=${state?.state} content=${content.map((c) => c.length)} server=${server}`;
  } finally {
    await sandbox.close();
    await rm(root, { recursive: true, force: true });
    await rm(serverDir, { recursive: true, force: true });
  }
}

async function restartAll(rec: Recording, states: CrashState[]): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < states.length) {
      const s = states[next++]!;
      const failure = await restart(rec, s).catch(
        (err: unknown) => `cut after op ${s.prefix} (${s.view}): ${String(err)}`,
      );
      if (failure) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failures;
}

for (const healthFail of [false, true]) {
  const scenario = healthFail ? 'an update whose health check fails (rollback)' : 'an update that commits';
  describe(`power cut at every point of ${scenario}`, { timeout: 240_000 }, () => {
    let rec: Recording;
    let replayed: ReturnType<typeof replay>;
    beforeAll(async () => {
      rec = await record(healthFail);
      replayed = replay(rec);
      // The whole journal, for reading a failure against the operations that led to it.
      if (process.env.OTAKIT_POWER_LOSS_JOURNAL) {
        await writeFile(
          `${process.env.OTAKIT_POWER_LOSS_JOURNAL}.${healthFail ? 'rollback' : 'commit'}`,
          rec.journal.describe(),
        );
      }
    }, 60_000);

    it('records a journal that rebuilds the device directory byte for byte', async () => {
      expect(rec.outcome).toBe(healthFail ? 'failure' : 'success');
      const model = new CrashModel(rec.root);
      for (const op of rec.ops) model.apply(op);
      const rebuilt = model.view('flushed');
      const real = await readTree(rec.root);
      expect(rebuilt.dirs).toEqual(real.dirs);
      expect([...rebuilt.files.keys()]).toEqual([...real.files.keys()]);
      for (const [path, f] of real.files) {
        expect(rebuilt.files.get(path)?.data.equals(f.data), path).toBe(true);
        expect(rebuilt.files.get(path)?.mode, path).toBe(f.mode);
      }
      // Every kind of operation the agent's durability rests on took part (truncate happens only when
      // a staged download resumes, which an uninterrupted run does not do).
      for (const kind of [
        'mkdir',
        'open',
        'write',
        'fsync',
        'dirfsync',
        'rename',
        'link',
        'unlink',
        'rmtree',
        'chmod',
      ]) {
        expect(replayed.perKind.get(kind) ?? 0, kind).toBeGreaterThan(0);
      }
    });

    it('never leaves a torn record or a lost or corrupt key, whatever the cut loses', () => {
      expect(replayed.problems.slice(0, 5)).toEqual([]);
    });

    it('restarts from every distinct crash state into committed-new or back-on-old', async () => {
      const chosen = pick(rec, replayed.states);
      const failures = await restartAll(rec, chosen);
      console.info(
        `power-loss (${scenario}): ${rec.ops.length} ops, ${replayed.states.length} distinct crash trees, ${chosen.length} restarted (${chosen.filter((c) => BOUNDARIES.has(rec.ops[c.prefix - 1]?.kind ?? 'mark')).length} at boundaries)`,
      );
      expect(failures.slice(0, 5), `${failures.length} of ${chosen.length} restarts failed`).toEqual([]);
      // The replay is not vacuous: it restarted before, during and after the update's writes.
      expect(chosen.length).toBeGreaterThan(20);
    });
  });
}
