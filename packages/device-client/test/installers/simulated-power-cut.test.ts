import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimulatedInstaller } from '../../src/installers/index.js';
import { payloadBytes } from './fixtures/power-cut-payload.js';
import { tempDir } from './helpers.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(here, '../../../..');
const child = join(here, 'fixtures', 'sim-child.ts');
const tsconfig = join(here, 'fixtures', 'tsconfig.json');
const expected = createHash('sha256').update(payloadBytes()).digest('hex');

/**
 * Runs the child once. With `killAt`, SIGKILLs it `delayMs` after it announces that step (the kill
 * lands somewhere inside that step or a later one). Resolves with the child's last line.
 */
function runChild(dir: string, killAt?: string, delayMs = 0): Promise<{ killed: boolean; out: string }> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir], {
      cwd: repoRoot,
      env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAt !== undefined && out.includes(`start ${killAt}\n`)) {
        killAt = undefined;
        setTimeout(() => p.kill('SIGKILL'), delayMs);
      }
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise({ killed: true, out });
      else if (code === 0) resolvePromise({ killed: false, out });
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });
}

/** What must hold whenever the process dies: the bootloader never points at a torn slot. */
async function checkInvariants(dir: string): Promise<void> {
  const raw = await readFile(join(dir, 'device', 'boot-env.json'), 'utf8').catch(() => undefined);
  if (raw === undefined) return; // killed before the first boot state was written: factory state
  const env = JSON.parse(raw) as { env: Record<string, string>; booted: string };
  for (const slot of new Set([env.env.mender_boot_part, env.booted])) {
    if (slot === 'b') {
      const image = await readFile(join(dir, 'device', 'slot-b', 'rootfs.img'));
      expect(createHash('sha256').update(image).digest('hex')).toBe(expected);
    } else {
      expect(slot).toBe('a');
    }
  }
  // The journal is never torn either.
  JSON.parse(await readFile(join(dir, 'journal.json'), 'utf8'));
}

const STEPS = ['download', 'install', 'reboot', 'verifyReboot', 'commit', 'cleanup'];

describe('SimulatedInstaller across SIGKILL', () => {
  it.each([0, 10])(
    'ends committed on the new slot when killed in every step (%i ms after it starts) and restarted',
    async (delayMs) => {
      const dir = await tempDir('otakit-sim-pc-');
      let kills = 0;
      // One kill inside each step in turn; a step the restarted run already passed is skipped.
      for (const step of STEPS) {
        const run = await runChild(dir, step, delayMs);
        if (run.killed) {
          kills++;
          await checkInvariants(dir);
        }
        if (run.out.includes('done\n')) break;
      }
      expect(kills).toBeGreaterThan(0);
      let last = await runChild(dir);
      if (!last.out.includes('done\n')) last = await runChild(dir);
      expect(last.out).toContain('done\n');

      const sim = new SimulatedInstaller({ dir: join(dir, 'device') });
      expect(await sim.bootState()).toEqual({
        booted: 'b',
        bootSlot: 'b',
        upgradeAvailable: false,
        bootcount: 0,
      });
      const content = await sim.currentContent();
      expect(
        createHash('sha256')
          .update(content['rootfs.img'] ?? Buffer.alloc(0))
          .digest('hex'),
      ).toBe(expected);
      expect(await sim.currentArtifactName()).toBe('release-2');
    },
    120_000,
  );
});
