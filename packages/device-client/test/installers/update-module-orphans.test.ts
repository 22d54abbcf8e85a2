import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UpdateModuleInstaller } from '../../src/installers/index.js';
import { makeContext, tempDir } from './helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../../../..');
const modulesDir = join(here, '..', 'fixtures', 'modules');

function running(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (stat) => !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? ''),
    () => false,
  );
}

async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(20);
  }
}

describe('UpdateModuleInstaller after the agent was killed', () => {
  it('kills the module the dead agent left running before running the next state', async () => {
    const dir = await tempDir('otakit-orphan-');
    const workDir = join(dir, 'work');
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', join(here, 'fixtures', 'module-child.ts'), modulesDir, workDir, 'hang'],
      {
        cwd: repoRoot,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(here, 'fixtures', 'tsconfig.json') },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => child.once('close', r));
    const installer = new UpdateModuleInstaller({ modulesDir, timeoutMs: 20_000 });
    const ctx = makeContext(workDir, { payloadType: 'hang' });
    const pidFile = join(installer.treeDir(ctx), 'tmp', 'sleep.pid');
    // The module is in ArtifactInstall once it wrote the pid of its child.
    const sleepPid = await waitFor(async () => {
      const text = await readFile(pidFile, 'utf8').catch(() => '');
      return text.endsWith('\n') ? Number(text.trim()) : undefined;
    });
    // ... and its pid is on record (a kill before that leaves nothing to find: the same as a kill
    // before the module started).
    const record = join(workDir, 'modules', 'v3', 'payloads', '0000.running.json');
    await waitFor(async () =>
      (await readFile(record, 'utf8').catch(() => '')).includes('ArtifactInstall') ? true : undefined,
    );
    child.kill('SIGKILL');
    await exited;
    try {
      expect(await running(sleepPid)).toBe(true);

      // The restarted agent goes on (here: to ArtifactFailure); the orphan goes first.
      await installer.failure(ctx);
      expect(await running(sleepPid)).toBe(false);
      expect(ctx.lines.some((l) => l.includes('left running by a previous run'))).toBe(true);
      await installer.cleanup(ctx);
    } finally {
      // If the test failed, do not leave the module's group behind.
      const stat = await readFile(`/proc/${sleepPid}/stat`, 'utf8').catch(() => undefined);
      const pgid = Number(stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (stat !== undefined && pgid > 1 && (await running(sleepPid))) process.kill(-pgid, 'SIGKILL');
    }
  }, 60_000);
});
