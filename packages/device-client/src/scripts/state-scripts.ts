import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';

/** The states that have state scripts, as in Mender. */
export type ScriptState =
  | 'Download'
  | 'ArtifactInstall'
  | 'ArtifactReboot'
  | 'ArtifactCommit'
  | 'ArtifactRollback'
  | 'ArtifactRollbackReboot'
  | 'ArtifactFailure';

/** When a script runs: entering the state, leaving it, or after it failed. */
export type ScriptAction = 'Enter' | 'Leave' | 'Error';

/** The exit code that asks to run the script again later (Mender's "retry later"). */
export const SCRIPT_RETRY_EXIT_CODE = 21;

/** Options of {@link StateScriptRunner}. */
export interface StateScriptOptions {
  /** Scripts installed on the device (Mender: `/etc/mender/scripts`), used for `Download_*`. */
  scriptsDir?: string;
  /** Time limit of one script run, ms. Default 3 600 000 (Mender's `StateScriptTimeoutSeconds`). */
  timeoutMs?: number;
  /** How long a script may keep asking to retry (exit 21), ms. Default 1 800 000. */
  retryTimeoutMs?: number;
  /** Wait between retries, ms. Default 60 000. */
  retryIntervalMs?: number;
}

/** Whether `name` is a state script of `state`/`action` (`<State>_<Action>_<NN>[_<text>]`). */
export function isStateScript(name: string, state: ScriptState, action: ScriptAction): boolean {
  return new RegExp(`^${state}_${action}_\\d\\d(_\\S+)?$`).test(name);
}

/**
 * Runs Mender state scripts: `Download_*` from the device's scripts directory, the `Artifact*` ones
 * from the artifact (stored with the update, so they survive a restart). Scripts run in name order;
 * exit 0 goes on, exit 21 retries after `retryIntervalMs` until `retryTimeoutMs`, any other exit or
 * a timeout fails (Enter/Leave) or is logged (Error).
 */
export class StateScriptRunner {
  readonly #o: StateScriptOptions;

  constructor(options: StateScriptOptions = {}) {
    this.#o = options;
  }

  /** Runs the scripts of `state`/`action`; `artifactDir` holds the artifact's scripts. */
  async run(
    state: ScriptState,
    action: ScriptAction,
    artifactDir: string | undefined,
    log: (line: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const dir = state === 'Download' ? this.#o.scriptsDir : artifactDir;
    if (!dir) return;
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => isStateScript(n, state, action)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (!(await stat(path)).isFile()) continue;
      await this.#runOne(path, name, log, signal);
    }
  }

  async #runOne(
    path: string,
    name: string,
    log: (line: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const retryUntil = Date.now() + (this.#o.retryTimeoutMs ?? 1_800_000);
    for (;;) {
      const code = await this.#exec(path, log, signal);
      if (code === 0) return;
      if (code === SCRIPT_RETRY_EXIT_CODE && Date.now() < retryUntil) {
        log(`state script ${name} asked to retry later`);
        await sleep(this.#o.retryIntervalMs ?? 60_000, signal);
        continue;
      }
      throw new DeviceError(
        DeviceErrorCodes.HOOK_FAILED,
        code === null ? `state script ${name} timed out` : `state script ${name} exited with ${code}`,
      );
    }
  }

  #exec(path: string, log: (line: string) => void, signal?: AbortSignal): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const child = spawn(path, [], { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.#o.timeoutMs ?? 3_600_000);
      const forward = (d: Buffer) => {
        for (const line of d.toString().split('\n')) if (line.trim()) log(`${path}: ${line}`);
      };
      child.stdout.on('data', forward);
      child.stderr.on('data', forward);
      child.on('error', (err) => {
        clearTimeout(timer);
        if (signal?.aborted) reject(signal.reason);
        else resolve(127);
        log(`state script ${path} could not run: ${err.message}`);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(timedOut ? null : code);
      });
    });
  }
}
