import type { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import {
  type ArtifactHeader,
  type ArtifactInfo,
  checkCompatibility,
  type HttpClient,
  type Logger,
  mkdirDurable,
  readArtifact,
} from '@otakit/core';
import type { EventEmitter } from 'eventemitter3';
import { abortableSleep } from '../abortable-sleep.js';
import type { DeploymentLogEntry, DeviceApi } from '../api/device-api.js';
import { resumableDownload } from '../download/resumable-download.js';
import { DownloadStaging } from '../download/staging.js';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import type { DeviceClientEvents } from '../events.js';
import { type HealthCheck, runHealthChecks } from '../health/health-checks.js';
import type { InstallContext, Installer } from '../installers/types.js';
import type { ScriptAction, ScriptState, StateScriptRunner } from '../scripts/state-scripts.js';
import type { ProvidesStore } from '../state/provides-store.js';
import type { StateStore } from '../state/state-store.js';
import { type HeaderView, viewHeader } from './header-view.js';
import {
  inMaintenanceWindow,
  type MaintenanceWindow,
  type PauseDecision,
  type PauseHook,
  type PausePoint,
} from './pause.js';
import { PayloadBridge } from './payload-bridge.js';
import type {
  ArtifactRecord,
  DeploymentStatus,
  UpdateOutcome,
  UpdateRecord,
  UpdateStateName,
} from './states.js';
import { compareVersions } from './version.js';

/** What the device accepts to install. */
export interface UpdatePolicy {
  /** Public keys (PEM or KeyObject) of which one must have signed the artifact. */
  trustedKeys?: Array<string | KeyObject>;
  /** Refuse unsigned artifacts. Default: true when `trustedKeys` are given. */
  requireSignature?: boolean;
  /** Refuse artifacts whose version (see `versionKey`) is below this floor. */
  minVersion?: string;
  /** Refuse artifacts older than the installed version (same key). Default false. */
  refuseDowngrade?: boolean;
  /** The provides key holding the version. Default `rootfs-image.version`, else the artifact name. */
  versionKey?: string;
}

/** Pause points, maintenance window and download-only mode. */
export interface PauseOptions {
  /** Hooks asked before install, reboot and commit. */
  hooks?: Partial<Record<PausePoint, PauseHook>>;
  /** Install, reboot and commit only inside this window. */
  maintenanceWindow?: MaintenanceWindow | ((now: Date) => boolean);
  /** Download, then hold before install until `proceed()` is called. */
  downloadOnly?: boolean;
  /** How often a paused update is re-checked (ms). Default 60 000. */
  recheckMs?: number;
}

/** Download behaviour. */
export interface DownloadTuning {
  /** Bandwidth cap (bytes/s). */
  bytesPerSecond?: number;
  /** No byte for this long counts as a dropped connection (ms). Default 60 000. */
  stallTimeoutMs?: number;
  /** Attempts without progress before giving up. Default 10. */
  maxAttempts?: number;
  /** Backoff first ceiling (ms). Default 1000. */
  retryBaseMs?: number;
  /** Backoff largest ceiling (ms). Default 60 000. */
  retryMaxMs?: number;
  /** Bytes between durable checkpoints of the staged download. Default 16 MiB. */
  checkpointBytes?: number;
  /** Stage the artifact in `dataDir/download` so a restarted process resumes. Default true. */
  stage?: boolean;
}

/** Everything the state machine works with. @internal */
export interface MachineContext {
  dataDir: string;
  deviceType: string;
  installers: Installer[];
  http: HttpClient;
  api: DeviceApi | undefined;
  states: StateStore;
  provides: ProvidesStore;
  policy: UpdatePolicy;
  pause: PauseOptions;
  download: DownloadTuning;
  healthChecks: HealthCheck[];
  /** Stores of one update before it is failed as a loop (Mender: 28). */
  maxStateStores: number;
  /** Attempts of the status reports that must get through (before commit, final). */
  statusAttempts: number;
  statusRetryBaseMs: number;
  events: EventEmitter<DeviceClientEvents>;
  logger: Logger;
  /** Fresh download link for a deployment (asks `next` again). */
  renewUrl?: (deploymentId: string) => Promise<string | undefined>;
  /** Runs state scripts; none when undefined. */
  scripts?: StateScriptRunner | undefined;
  /** Resolves when `proceed()` is called (wakes paused updates). */
  waitForProceed: () => Promise<void>;
  /** Whether `proceed()` released download-only holds for this update. */
  isReleased: (updateId: string) => boolean;
}

/** The result of one update. */
export interface UpdateResult {
  updateId: string;
  outcome: UpdateOutcome;
  artifactName?: string | undefined;
  error?: string | undefined;
}

const SCRIPTED_STATES: Partial<Record<UpdateStateName, ScriptState>> = {
  Download: 'Download',
  ArtifactInstall: 'ArtifactInstall',
  ArtifactReboot: 'ArtifactReboot',
  ArtifactCommit: 'ArtifactCommit',
  ArtifactRollback: 'ArtifactRollback',
  ArtifactRollbackReboot: 'ArtifactRollbackReboot',
  ArtifactFailure: 'ArtifactFailure',
};

const ROLLBACK_PATH: ReadonlySet<UpdateStateName> = new Set([
  'ArtifactRollback',
  'ArtifactRollbackReboot',
  'ArtifactVerifyRollbackReboot',
  'ArtifactFailure',
  'Cleanup',
  'ReportStatus',
]);

/**
 * The update state machine, as the Mender client runs it: Download, ArtifactInstall,
 * ArtifactReboot, ArtifactVerifyReboot, ArtifactCommit, Cleanup; on error ArtifactRollback,
 * ArtifactRollbackReboot, ArtifactVerifyRollbackReboot, ArtifactFailure. The record is persisted
 * before every state, so {@link UpdateMachine.run} continues an update interrupted by a crash,
 * a power cut or a real reboot.
 * @internal
 */
export class UpdateMachine {
  readonly #c: MachineContext;

  constructor(context: MachineContext) {
    this.#c = context;
  }

  /** Runs (or resumes) the update in `record` to its end. Rejects only when `signal` aborts. */
  async run(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateResult> {
    const c = this.#c;
    for (;;) {
      signal?.throwIfAborted();
      record.storeCount++;
      if (record.storeCount > c.maxStateStores && !ROLLBACK_PATH.has(record.state)) {
        this.#enterFailure(
          record,
          new DeviceError(
            DeviceErrorCodes.STATE_LOOP,
            `state stored ${record.storeCount} times: loop detected`,
          ),
        );
      } else if (record.storeCount > c.maxStateStores + 20 && record.state !== 'ReportStatus') {
        record.outcome ??= 'failure';
        record.state = 'ReportStatus';
      } else if (record.storeCount > c.maxStateStores + 40) {
        await c.states.clear();
        return this.#done(record);
      }
      await c.states.save(record);
      safeEmit(c, 'state:enter', { updateId: record.id, state: record.state, storeCount: record.storeCount });
      await this.#log(record, 'info', `entering ${record.state}`);
      if (record.state === 'ReportStatus') {
        await this.#reportFinal(record, signal);
        await c.states.clear();
        await rm(this.#updateDir(record), { recursive: true, force: true });
        return this.#done(record);
      }
      const scriptState = SCRIPTED_STATES[record.state];
      const onFailurePath = ROLLBACK_PATH.has(record.state);
      try {
        if (scriptState) await this.#scripts(record, scriptState, 'Enter', onFailurePath, signal);
        const next = await this.#step(record, signal);
        // The Leave scripts of a reboot run after it, when verifying (see #verifyReboot).
        if (scriptState && scriptState !== 'ArtifactReboot' && scriptState !== 'ArtifactRollbackReboot') {
          await this.#scripts(
            record,
            scriptState,
            'Leave',
            onFailurePath || scriptState === 'ArtifactCommit',
            signal,
          );
        }
        record.state = next;
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        if (scriptState) await this.#scripts(record, scriptState, 'Error', true, signal);
        if (ROLLBACK_PATH.has(record.state)) {
          // Errors on the failure path are logged; the path goes on.
          await this.#log(record, 'error', `${record.state} failed: ${message(err)}`);
          record.state = nextOnFailurePath(record);
        } else {
          this.#enterFailure(record, err);
        }
      }
    }
  }

  #done(record: UpdateRecord): UpdateResult {
    const result: UpdateResult = {
      updateId: record.id,
      outcome: record.outcome ?? 'failure',
      artifactName: record.artifact?.name,
      error: record.error?.message,
    };
    safeEmit(this.#c, 'update:done', {
      ...result,
      deploymentId: record.source.kind === 'deployment' ? record.source.deploymentId : undefined,
    });
    return result;
  }

  /** Sends the update down the failure path from the current state. */
  #enterFailure(record: UpdateRecord, err: unknown): void {
    const aborted = err instanceof DeviceError && err.code === DeviceErrorCodes.DEPLOYMENT_ABORTED;
    record.outcome = aborted ? 'aborted' : 'failure';
    record.error ??= { code: (err as { code?: string }).code, message: message(err) };
    void this.#log(record, 'error', `update failed in ${record.state}: ${message(err)}`);
    c_log(this.#c, 'warn', 'update failed', { state: record.state, error: message(err) });
    record.state = record.installed ? 'ArtifactRollback' : 'Cleanup';
  }

  async #step(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    switch (record.state) {
      case 'Download':
        return this.#download(record, signal);
      case 'ArtifactInstall':
        return this.#install(record, signal);
      case 'ArtifactReboot':
        return this.#reboot(record, signal);
      case 'ArtifactVerifyReboot':
        return this.#verifyReboot(record, signal);
      case 'ArtifactCommit':
        return this.#commit(record, signal);
      case 'ArtifactRollback':
        return this.#rollback(record);
      case 'ArtifactRollbackReboot':
        return this.#rollbackReboot(record);
      case 'ArtifactVerifyRollbackReboot':
        await this.#eachPayload(record, (i, ctx) => i.verifyRollbackReboot(ctx));
        await this.#scripts(record, 'ArtifactRollbackReboot', 'Leave', true, signal);
        return 'ArtifactFailure';
      case 'ArtifactFailure':
        await this.#eachPayload(record, (i, ctx) => i.failure(ctx), { tolerant: true });
        return 'Cleanup';
      case 'Cleanup':
        await this.#eachPayload(record, (i, ctx) => i.cleanup(ctx), { tolerant: true });
        await new DownloadStaging(join(this.#c.dataDir, 'download')).remove();
        record.outcome ??= 'success';
        return 'ReportStatus';
      default:
        throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, `unknown state ${String(record.state)}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Download
  // ---------------------------------------------------------------------------------------------

  async #download(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    const c = this.#c;
    await this.#report(record, 'downloading', false, signal);
    const source = record.source;
    let input: Readable | AsyncIterable<Uint8Array>;
    if (source.kind === 'file') {
      input = createReadStream(source.path, { highWaterMark: 1 << 20 });
    } else {
      const stage = c.download.stage ?? true;
      const deploymentId = source.kind === 'deployment' ? source.deploymentId : undefined;
      const renew = deploymentId !== undefined && c.renewUrl ? c.renewUrl : undefined;
      input = resumableDownload({
        http: c.http,
        url: source.url,
        ...(renew && deploymentId
          ? {
              renewUrl: async () => {
                const url = await renew(deploymentId);
                if (url && source.kind === 'deployment') {
                  source.url = url;
                  await c.states.save(record);
                }
                return url;
              },
            }
          : {}),
        ...(stage
          ? { staging: { store: new DownloadStaging(join(c.dataDir, 'download')), key: record.id } }
          : {}),
        ...pick(c.download, [
          'bytesPerSecond',
          'stallTimeoutMs',
          'maxAttempts',
          'retryBaseMs',
          'retryMaxMs',
          'checkpointBytes',
        ]),
        ...(signal ? { signal } : {}),
        onProgress: (p) => safeEmit(c, 'download:progress', { updateId: record.id, ...p }),
        onRetry: (r) => {
          safeEmit(c, 'download:retry', { updateId: record.id, ...r });
          void this.#log(
            record,
            'warning',
            `download: ${r.reason}; resuming at byte ${r.offset} in ${r.delayMs} ms`,
          );
        },
      });
    }

    const installed = await c.provides.read();
    record.previous ??= { name: installed.artifactName, group: installed.artifactGroup };
    const device = {
      deviceType: c.deviceType,
      provides: {
        ...installed.provides,
        artifact_name: installed.artifactName,
        ...(installed.artifactGroup ? { artifact_group: installed.artifactGroup } : {}),
      },
    };
    let header: HeaderView | undefined;
    const bridge = new PayloadBridge((index) => {
      const payloadType = header?.payloadTypes[index];
      if (!payloadType) throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, `no payload ${index}`);
      const installer = this.#installerFor(payloadType);
      return { installer, ctx: this.#ctx(record, index, header!.toRecord(), signal) };
    });
    const onHeader = async (raw: ArtifactHeader): Promise<HeaderView> => {
      const view = viewHeader(raw);
      // Nothing reaches an installer before device type, depends and policy are checked.
      checkCompatibility(raw, device);
      this.#checkHeader(view, installed);
      await this.#storeScripts(record, raw);
      record.artifact = view.toRecord();
      await c.states.save(record);
      await this.#log(record, 'info', `artifact ${view.name}: payloads ${view.payloadTypes.join(', ')}`);
      return view;
    };
    const requireSignature = c.policy.requireSignature ?? (c.policy.trustedKeys?.length ?? 0) > 0;
    let info: ArtifactInfo;
    try {
      info = await readArtifact(input, {
        ...(c.policy.trustedKeys ? { trustedKeys: c.policy.trustedKeys } : {}),
        requireSignature,
        ...(signal ? { signal } : {}),
        onPayloadFile: async (file, raw) => {
          header ??= await onHeader(raw);
          await bridge.onFile(file);
        },
      });
    } catch (err) {
      if (input instanceof Readable) input.destroy();
      await bridge.abort();
      throw err;
    }
    header ??= await onHeader(info.header);
    this.#checkPolicy(info, installed);
    record.artifact = { ...header.toRecord(), signed: info.signed };
    await bridge.finish(header.payloadTypes);
    await this.#log(record, 'info', `downloaded and verified ${header.name}`);
    return 'ArtifactInstall';
  }

  #installerFor(payloadType: string): Installer {
    const installer = this.#c.installers.find((i) => i.supports(payloadType));
    if (!installer) {
      throw new DeviceError(
        DeviceErrorCodes.NO_INSTALLER,
        `no installer supports payload type ${payloadType}`,
      );
    }
    return installer;
  }

  #checkHeader(
    header: HeaderView,
    installed: { artifactName: string; provides: Record<string, string> },
  ): void {
    for (const t of header.payloadTypes) if (t) this.#installerFor(t);
    this.#checkVersion(header.provides, header.name, installed);
  }

  #checkPolicy(
    info: ArtifactInfo,
    installed: { artifactName: string; provides: Record<string, string> },
  ): void {
    const c = this.#c;
    const requireSignature = c.policy.requireSignature ?? (c.policy.trustedKeys?.length ?? 0) > 0;
    if (requireSignature && !info.signatureVerified) {
      throw new DeviceError(DeviceErrorCodes.POLICY, 'the artifact is not signed by a trusted key');
    }
    const provides: Record<string, string> = {};
    for (const [k, v] of Object.entries(info.provides)) if (typeof v === 'string') provides[k] = v;
    this.#checkVersion(provides, info.artifactName, installed);
  }

  #checkVersion(
    provides: Record<string, string>,
    name: string,
    installed: { artifactName: string; provides: Record<string, string> },
  ): void {
    const { minVersion, refuseDowngrade } = this.#c.policy;
    if (minVersion === undefined && !refuseDowngrade) return;
    const key = this.#c.policy.versionKey ?? 'rootfs-image.version';
    const version = provides[key] ?? (this.#c.policy.versionKey ? undefined : name);
    if (version === undefined) {
      throw new DeviceError(
        DeviceErrorCodes.POLICY,
        `the artifact provides no ${key} to check against the version policy`,
      );
    }
    if (minVersion !== undefined && compareVersions(version, minVersion) < 0) {
      throw new DeviceError(DeviceErrorCodes.POLICY, `version ${version} is below the floor ${minVersion}`);
    }
    if (refuseDowngrade) {
      const current =
        installed.provides[key] ?? (this.#c.policy.versionKey ? undefined : installed.artifactName);
      if (current !== undefined && current !== 'unknown' && compareVersions(version, current) < 0) {
        throw new DeviceError(
          DeviceErrorCodes.POLICY,
          `version ${version} is older than the installed ${current}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Install, reboot, verify, commit
  // ---------------------------------------------------------------------------------------------

  async #install(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    await this.#pausePoint(record, 'beforeInstall', signal);
    await this.#report(record, 'installing', false, signal);
    if (!record.installed) {
      record.installed = true;
      await this.#c.states.save(record);
    }
    await this.#eachPayload(record, (i, ctx) => i.install(ctx));
    let need: 'No' | 'Yes' | 'Automatic' = 'No';
    await this.#eachPayload(record, async (i, ctx) => {
      const n = await i.needsReboot(ctx);
      if (n === 'Yes' || (n === 'Automatic' && need === 'No')) need = n;
    });
    record.rebootNeed = need;
    return need === 'No' ? 'ArtifactCommit' : 'ArtifactReboot';
  }

  async #reboot(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    await this.#pausePoint(record, 'beforeReboot', signal);
    await this.#report(record, 'rebooting', false, signal);
    // Persist the state to resume in *before* rebooting: a real reboot does not return.
    record.state = 'ArtifactVerifyReboot';
    await this.#c.states.save(record);
    await this.#eachPayload(
      record,
      async (i, ctx) => {
        if ((await i.needsReboot(ctx)) !== 'No') await i.reboot(ctx);
      },
      { dedupe: true },
    );
    return 'ArtifactVerifyReboot';
  }

  async #verifyReboot(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    await this.#eachPayload(record, (i, ctx) => i.verifyReboot(ctx));
    await this.#scripts(record, 'ArtifactReboot', 'Leave', false, signal);
    await this.#healthCheck(record, signal);
    return 'ArtifactCommit';
  }

  async #healthCheck(record: UpdateRecord, signal?: AbortSignal): Promise<void> {
    const checks = this.#c.healthChecks;
    if (checks.length === 0) return;
    const results = await runHealthChecks(checks, signal);
    safeEmit(this.#c, 'health:result', { updateId: record.id, results });
    for (const r of results) {
      await this.#log(
        record,
        r.ok ? 'info' : 'error',
        `health check ${r.name}: ${r.ok ? 'ok' : `failed (${r.error})`}`,
      );
    }
    const failed = results.find((r) => !r.ok);
    if (failed) {
      throw new DeviceError(
        DeviceErrorCodes.HEALTH_CHECK,
        `health check ${failed.name} failed: ${failed.error}`,
      );
    }
  }

  async #commit(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    const c = this.#c;
    if (record.rebootNeed === 'No') await this.#healthCheck(record, signal);
    await this.#pausePoint(record, 'beforeCommit', signal);
    await this.#report(record, 'installing', true, signal);
    await this.#eachPayload(record, (i, ctx) => i.commit(ctx));
    const a = record.artifact!;
    await c.provides.commit({
      artifactName: a.name,
      artifactGroup: a.group,
      provides: a.provides,
      clearsProvides: a.clearsProvides,
    });
    await this.#log(record, 'info', `committed ${a.name}`);
    record.outcome = 'success';
    return 'Cleanup';
  }

  async #rollback(record: UpdateRecord): Promise<UpdateStateName> {
    let supported = true;
    await this.#eachPayload(record, async (i, ctx) => {
      if (!(await i.supportsRollback(ctx))) supported = false;
    });
    if (!supported) {
      await this.#log(record, 'error', 'the installer does not support rollback');
      return 'ArtifactFailure';
    }
    await this.#eachPayload(record, (i, ctx) => i.rollback(ctx), { reverse: true });
    return record.rebootNeed && record.rebootNeed !== 'No' ? 'ArtifactRollbackReboot' : 'ArtifactFailure';
  }

  async #rollbackReboot(record: UpdateRecord): Promise<UpdateStateName> {
    record.state = 'ArtifactVerifyRollbackReboot';
    await this.#c.states.save(record);
    await this.#eachPayload(record, (i, ctx) => i.rollbackReboot(ctx), { dedupe: true });
    return 'ArtifactVerifyRollbackReboot';
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------------------------------

  async #eachPayload(
    record: UpdateRecord,
    fn: (installer: Installer, ctx: InstallContext) => Promise<void>,
    opts: { tolerant?: boolean; reverse?: boolean; dedupe?: boolean } = {},
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
        installer = this.#installerFor(payload.type);
      } catch (err) {
        if (opts.tolerant) continue;
        throw err;
      }
      if (opts.dedupe && seen.has(installer)) continue;
      seen.add(installer);
      try {
        await fn(installer, this.#ctx(record, index, a));
      } catch (err) {
        if (!opts.tolerant) throw err;
        await this.#log(record, 'error', `${record.state} (payload ${index}): ${message(err)}`);
      }
    }
  }

  /**
   * Runs the state scripts of `state`/`action`. With `tolerant`, a failing script is logged and the
   * update goes on (failure path, Error scripts, ArtifactCommit_Leave).
   */
  async #scripts(
    record: UpdateRecord,
    state: ScriptState,
    action: ScriptAction,
    tolerant: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const runner = this.#c.scripts;
    if (!runner) return;
    const log = (line: string) => void this.#log(record, 'info', line);
    try {
      await runner.run(state, action, join(this.#updateDir(record), 'scripts'), log, signal);
    } catch (err) {
      if (signal?.aborted || !tolerant) throw err;
      await this.#log(record, 'error', `${state}_${action}: ${message(err)}`);
    }
  }

  /** Keeps the artifact's state scripts with the update (they are needed after a restart). */
  async #storeScripts(record: UpdateRecord, header: ArtifactHeader): Promise<void> {
    if (header.scripts.length === 0) return;
    const dir = join(this.#updateDir(record), 'scripts');
    await mkdir(dir, { recursive: true });
    for (const script of header.scripts) {
      if (basename(script.name) !== script.name || script.name.startsWith('.')) continue;
      await writeFile(join(dir, script.name), script.content, { mode: 0o755 });
      await chmod(join(dir, script.name), 0o755);
    }
  }

  #updateDir(record: UpdateRecord): string {
    return join(this.#c.dataDir, 'updates', safeName(record.id));
  }

  #ctx(record: UpdateRecord, index: number, a: ArtifactRecord, signal?: AbortSignal): InstallContext {
    const payload = a.payloads.find((p) => p.index === index);
    return {
      workDir: join(this.#updateDir(record), `payload-${String(index).padStart(4, '0')}`),
      artifactName: a.name,
      payloadIndex: index,
      payloadType: payload?.type ?? '',
      header: { headerInfo: a.headerInfo, typeInfo: payload?.typeInfo, metaData: payload?.metaData },
      deviceType: this.#c.deviceType,
      ...(record.previous ? { currentArtifactName: record.previous.name } : {}),
      ...(record.previous?.group ? { currentArtifactGroup: record.previous.group } : {}),
      ...(signal ? { signal } : {}),
      log: (line) => void this.#log(record, 'info', line),
    };
  }

  /** Appends a line to the deployment log (JSON lines in the update's directory). */
  async #log(record: UpdateRecord, level: string, msg: string): Promise<void> {
    safeEmit(this.#c, 'log', { updateId: record.id, level, message: msg });
    const entry: DeploymentLogEntry = { timestamp: new Date().toISOString(), level, message: msg };
    try {
      const dir = this.#updateDir(record);
      // Durably: the installers' work directories (their records of the update) live inside it.
      await mkdirDurable(dir);
      await appendFile(join(dir, 'deployment.log'), `${JSON.stringify(entry)}\n`);
    } catch {
      // The log is best effort.
    }
  }

  async #readLog(record: UpdateRecord): Promise<DeploymentLogEntry[]> {
    let text = '';
    try {
      text = await readFile(join(this.#updateDir(record), 'deployment.log'), 'utf8');
    } catch {
      return [];
    }
    const out: DeploymentLogEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as DeploymentLogEntry);
      } catch {
        out.push({ timestamp: new Date().toISOString(), level: 'error', message: '(corrupt log line)' });
      }
    }
    return out;
  }

  /**
   * Reports a status to the server for deployments. 409 throws `ERR_DEPLOYMENT_ABORTED`. With
   * `mustSucceed` other errors are retried and finally thrown; otherwise they are ignored.
   */
  async #report(
    record: UpdateRecord,
    status: DeploymentStatus,
    mustSucceed: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const c = this.#c;
    if (record.source.kind !== 'deployment' || !c.api) return;
    const id = record.source.deploymentId;
    const attempts = mustSucceed ? c.statusAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        await c.api.reportStatus(id, status, undefined, signal ? { signal } : {});
        safeEmit(c, 'deployment:status', { deploymentId: id, status });
        return;
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        safeEmit(c, 'deployment:status', { deploymentId: id, status, error: message(err) });
        if (err instanceof DeviceError && err.code === DeviceErrorCodes.DEPLOYMENT_ABORTED) throw err;
        await this.#log(record, 'warning', `status report ${status} failed: ${message(err)}`);
        if (attempt >= attempts) {
          if (mustSucceed) throw err;
          return;
        }
        await abortableSleep(Math.random() * c.statusRetryBaseMs * 2 ** (attempt - 1), signal);
      }
    }
  }

  async #reportFinal(record: UpdateRecord, signal?: AbortSignal): Promise<void> {
    const c = this.#c;
    if (record.source.kind !== 'deployment' || !c.api) return;
    const id = record.source.deploymentId;
    if (record.outcome === 'aborted') return; // the server already knows; reports would 409
    const status: DeploymentStatus = record.outcome === 'success' ? 'success' : 'failure';
    try {
      await this.#report(record, status, true, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      c_log(c, 'warn', 'final status report failed', { error: message(err) });
      return;
    }
    if (status === 'failure') {
      try {
        await c.api.uploadLog(id, await this.#readLog(record), signal ? { signal } : {});
      } catch (err) {
        if (signal?.aborted) throw err;
        c_log(c, 'warn', 'deployment log upload failed', { error: message(err) });
      }
    }
  }

  async #pausePoint(record: UpdateRecord, point: PausePoint, signal?: AbortSignal): Promise<void> {
    const c = this.#c;
    const p = c.pause;
    let reported = false;
    for (;;) {
      let decision: PauseDecision = 'continue';
      let reason = '';
      if (point === 'beforeInstall' && p.downloadOnly && !c.isReleased(record.id)) {
        decision = 'pause';
        reason = 'download-only mode';
      } else if (p.maintenanceWindow && !inMaintenanceWindow(p.maintenanceWindow)) {
        decision = 'pause';
        reason = 'outside the maintenance window';
      } else if (p.hooks?.[point]) {
        decision = await p.hooks[point]({
          point,
          updateId: record.id,
          artifactName: record.artifact?.name ?? '',
        });
        reason = 'held by the pause hook';
      }
      if (decision === 'continue') return;
      if (decision === 'fail')
        throw new DeviceError(DeviceErrorCodes.HOOK_FAILED, `the ${point} hook failed the update`);
      const retryInMs = typeof decision === 'object' ? decision.retryAfterMs : (p.recheckMs ?? 60_000);
      if (!reported) {
        reported = true;
        const status = (
          {
            beforeInstall: 'pause_before_installing',
            beforeReboot: 'pause_before_rebooting',
            beforeCommit: 'pause_before_committing',
          } as const
        )[point];
        await this.#report(record, status, false, signal);
        await this.#log(record, 'info', `paused ${point}: ${reason}`);
      }
      safeEmit(c, 'update:paused', { updateId: record.id, point, reason, retryInMs });
      // Re-check after the interval, or at once on proceed(); the losing timer is cancelled.
      const wake = new AbortController();
      const sleepSignal = signal ? AbortSignal.any([signal, wake.signal]) : wake.signal;
      await Promise.race([abortableSleep(retryInMs, sleepSignal).catch(() => {}), c.waitForProceed()]);
      wake.abort();
      signal?.throwIfAborted();
    }
  }
}

function nextOnFailurePath(record: UpdateRecord): UpdateStateName {
  switch (record.state) {
    case 'ArtifactRollback':
      return 'ArtifactFailure';
    case 'ArtifactRollbackReboot':
    case 'ArtifactVerifyRollbackReboot':
      return 'ArtifactFailure';
    case 'ArtifactFailure':
      return 'Cleanup';
    default:
      return 'ReportStatus';
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}

function pick<T extends object, K extends keyof T>(obj: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/** @internal */
export function safeEmit<E extends keyof DeviceClientEvents>(
  c: { events: EventEmitter<DeviceClientEvents>; logger: Logger },
  event: E,
  payload: Parameters<DeviceClientEvents[E]>[0],
): void {
  try {
    (c.events.emit as (e: E, p: unknown) => boolean)(event, payload);
  } catch (err) {
    c.logger.error(`otakit device: a '${event}' listener threw`, { error: message(err) });
  }
}

function c_log(c: MachineContext, level: 'warn' | 'info', msg: string, meta: Record<string, unknown>): void {
  c.logger[level](`otakit device: ${msg}`, meta);
}
