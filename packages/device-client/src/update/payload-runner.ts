import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ArtifactHeader } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import { errorMessage } from '../events.js';
import type { InstallContext, Installer } from '../installers/types.js';
import type { ScriptAction, ScriptState, StateScriptRunner } from '../scripts/state-scripts.js';
import { type DeploymentLog, updateDir } from './deployment-log.js';
import type { ArtifactRecord, UpdateRecord } from './states.js';

/** Options of {@link PayloadRunner.each}. */
interface EachOptions {
  /** Log a failing payload and go on (failure path). */
  tolerant?: boolean;
  /** Last payload first (rollback). */
  reverse?: boolean;
  /** Call each installer once, whatever its number of payloads (reboots). */
  dedupe?: boolean;
}

/**
 * Drives the installers and state scripts of one update: finds the installer of each payload, builds
 * the {@link InstallContext} each step receives, and runs the artifact's state scripts.
 * @internal
 */
export class PayloadRunner {
  readonly #c: {
    dataDir: string;
    deviceType: string;
    installers: Installer[];
    scripts?: StateScriptRunner | undefined;
  };
  readonly #log: DeploymentLog;

  constructor(
    c: {
      dataDir: string;
      deviceType: string;
      installers: Installer[];
      scripts?: StateScriptRunner | undefined;
    },
    log: DeploymentLog,
  ) {
    this.#c = c;
    this.#log = log;
  }

  /**
   * The first installer that supports a payload type.
   * @throws {@link DeviceError} `ERR_DEVICE_NO_INSTALLER`.
   */
  installerFor(payloadType: string): Installer {
    const installer = this.#c.installers.find((i) => i.supports(payloadType));
    if (!installer) {
      throw new DeviceError(
        DeviceErrorCodes.NO_INSTALLER,
        `no installer supports payload type ${payloadType}`,
      );
    }
    return installer;
  }

  /** The context of one payload's steps. */
  context(record: UpdateRecord, index: number, a: ArtifactRecord, signal?: AbortSignal): InstallContext {
    const payload = a.payloads.find((p) => p.index === index);
    return {
      workDir: join(updateDir(this.#c.dataDir, record.id), `payload-${String(index).padStart(4, '0')}`),
      artifactName: a.name,
      payloadIndex: index,
      payloadType: payload?.type ?? '',
      header: { headerInfo: a.headerInfo, typeInfo: payload?.typeInfo, metaData: payload?.metaData },
      deviceType: this.#c.deviceType,
      ...(record.previous ? { currentArtifactName: record.previous.name } : {}),
      ...(record.previous?.group ? { currentArtifactGroup: record.previous.group } : {}),
      ...(signal ? { signal } : {}),
      log: (line) => void this.#log.append(record, 'info', line),
    };
  }

  /** Runs `fn` for each payload of the artifact, with its installer and context. */
  async each(
    record: UpdateRecord,
    fn: (installer: Installer, ctx: InstallContext) => Promise<void>,
    opts: EachOptions = {},
  ): Promise<void> {
    const a = record.artifact;
    if (!a) return;
    const order = a.payloads.map((p) => p.index);
    if (opts.reverse) order.reverse();
    const seen = new Set<Installer>();
    for (const index of order) {
      const payload = a.payloads.find((p) => p.index === index)!;
      let installer: Installer;
      try {
        installer = this.installerFor(payload.type);
      } catch (err) {
        if (opts.tolerant) continue;
        throw err;
      }
      if (opts.dedupe && seen.has(installer)) continue;
      seen.add(installer);
      try {
        await fn(installer, this.context(record, index, a));
      } catch (err) {
        if (!opts.tolerant) throw err;
        await this.#log.append(record, 'error', `${record.state} (payload ${index}): ${errorMessage(err)}`);
      }
    }
  }

  /**
   * Runs the state scripts of `state`/`action`. With `tolerant`, a failing script is logged and the
   * update goes on (failure path, Error scripts, ArtifactCommit_Leave).
   */
  async scripts(
    record: UpdateRecord,
    state: ScriptState,
    action: ScriptAction,
    tolerant: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const runner = this.#c.scripts;
    if (!runner) return;
    const log = (line: string) => void this.#log.append(record, 'info', line);
    try {
      await runner.run(state, action, this.#scriptsDir(record), log, signal);
    } catch (err) {
      if (signal?.aborted || !tolerant) throw err;
      await this.#log.append(record, 'error', `${state}_${action}: ${errorMessage(err)}`);
    }
  }

  /** Keeps the artifact's state scripts with the update (they are needed after a restart). */
  async storeScripts(record: UpdateRecord, header: ArtifactHeader): Promise<void> {
    if (header.scripts.length === 0) return;
    const dir = this.#scriptsDir(record);
    await mkdir(dir, { recursive: true });
    for (const script of header.scripts) {
      if (basename(script.name) !== script.name || script.name.startsWith('.')) continue;
      await writeFile(join(dir, script.name), script.content, { mode: 0o755 });
      await chmod(join(dir, script.name), 0o755);
    }
  }

  #scriptsDir(record: UpdateRecord): string {
    return join(updateDir(this.#c.dataDir, record.id), 'scripts');
  }
}
