import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DownloadStaging } from '../download/staging.js';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import { errorMessage, safeEmit } from '../events.js';
import type { ScriptState } from '../scripts/state-scripts.js';
import type { MachineContext, UpdateParts } from './context.js';
import { DeploymentLog, updateDir } from './deployment-log.js';
import { downloadStep } from './download-step.js';
import {
  commitStep,
  installStep,
  rebootStep,
  rollbackRebootStep,
  rollbackStep,
  verifyRebootStep,
} from './install-steps.js';
import { PayloadRunner } from './payload-runner.js';
import type { UpdateOutcome, UpdateRecord, UpdateStateName } from './states.js';
import { StatusReporter } from './status-reporter.js';

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
 * a power cut or a real reboot. The steps live beside it: `download-step.ts`, `install-steps.ts`,
 * `pause.ts`; reports go through `status-reporter.ts`, the log through `deployment-log.ts`.
 * @internal
 */
export class UpdateMachine {
  readonly #m: UpdateParts;

  constructor(context: MachineContext) {
    const log = new DeploymentLog(context.dataDir, context);
    this.#m = {
      ...context,
      log,
      reporter: new StatusReporter(context.channel, context.statusReports, log, context),
      payloads: new PayloadRunner(context, log),
    };
  }

  /** Runs (or resumes) the update in `record` to its end. Rejects only when `signal` aborts. */
  async run(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateResult> {
    const m = this.#m;
    for (;;) {
      signal?.throwIfAborted();
      record.storeCount++;
      if (record.storeCount > m.maxStateStores && !ROLLBACK_PATH.has(record.state)) {
        this.#enterFailure(
          record,
          new DeviceError(
            DeviceErrorCodes.STATE_LOOP,
            `state stored ${record.storeCount} times: loop detected`,
          ),
        );
      } else if (record.storeCount > m.maxStateStores + 20 && record.state !== 'ReportStatus') {
        record.outcome ??= 'failure';
        record.state = 'ReportStatus';
      } else if (record.storeCount > m.maxStateStores + 40) {
        await m.states.clear();
        return this.#done(record);
      }
      await m.states.save(record);
      safeEmit(m, 'state:enter', { updateId: record.id, state: record.state, storeCount: record.storeCount });
      await m.log.append(record, 'info', `entering ${record.state}`);
      if (record.state === 'ReportStatus') {
        await m.reporter.reportFinal(record, signal);
        await m.states.clear();
        await rm(updateDir(m.dataDir, record.id), { recursive: true, force: true });
        return this.#done(record);
      }
      const scriptState = SCRIPTED_STATES[record.state];
      const onFailurePath = ROLLBACK_PATH.has(record.state);
      try {
        if (scriptState) await m.payloads.scripts(record, scriptState, 'Enter', onFailurePath, signal);
        const next = await this.#step(record, signal);
        // The Leave scripts of a reboot run after it, when verifying (see verifyRebootStep).
        if (scriptState && scriptState !== 'ArtifactReboot' && scriptState !== 'ArtifactRollbackReboot') {
          const tolerant = onFailurePath || scriptState === 'ArtifactCommit';
          await m.payloads.scripts(record, scriptState, 'Leave', tolerant, signal);
        }
        record.state = next;
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        if (scriptState) await m.payloads.scripts(record, scriptState, 'Error', true, signal);
        if (ROLLBACK_PATH.has(record.state)) {
          // Errors on the failure path are logged; the path goes on.
          await m.log.append(record, 'error', `${record.state} failed: ${errorMessage(err)}`);
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
    safeEmit(this.#m, 'update:done', {
      ...result,
      deploymentId: record.source.kind === 'deployment' ? record.source.deploymentId : undefined,
    });
    return result;
  }

  /** Sends the update down the failure path from the current state. */
  #enterFailure(record: UpdateRecord, err: unknown): void {
    const aborted = err instanceof DeviceError && err.code === DeviceErrorCodes.DEPLOYMENT_ABORTED;
    record.outcome = aborted ? 'aborted' : 'failure';
    record.error ??= { code: (err as { code?: string }).code, message: errorMessage(err) };
    void this.#m.log.append(record, 'error', `update failed in ${record.state}: ${errorMessage(err)}`);
    this.#m.logger.warn('otakit device: update failed', { state: record.state, error: errorMessage(err) });
    record.state = record.installed ? 'ArtifactRollback' : 'Cleanup';
  }

  async #step(record: UpdateRecord, signal?: AbortSignal): Promise<UpdateStateName> {
    const m = this.#m;
    switch (record.state) {
      case 'Download':
        return downloadStep(m, record, signal);
      case 'ArtifactInstall':
        return installStep(m, record, signal);
      case 'ArtifactReboot':
        return rebootStep(m, record, signal);
      case 'ArtifactVerifyReboot':
        return verifyRebootStep(m, record, signal);
      case 'ArtifactCommit':
        return commitStep(m, record, signal);
      case 'ArtifactRollback':
        return rollbackStep(m, record);
      case 'ArtifactRollbackReboot':
        return rollbackRebootStep(m, record);
      case 'ArtifactVerifyRollbackReboot':
        await m.payloads.each(record, (i, ctx) => i.verifyRollbackReboot(ctx));
        await m.payloads.scripts(record, 'ArtifactRollbackReboot', 'Leave', true, signal);
        return 'ArtifactFailure';
      case 'ArtifactFailure':
        await m.payloads.each(record, (i, ctx) => i.failure(ctx), { tolerant: true });
        return 'Cleanup';
      case 'Cleanup':
        await m.payloads.each(record, (i, ctx) => i.cleanup(ctx), { tolerant: true });
        await new DownloadStaging(join(m.dataDir, 'download')).remove();
        record.outcome ??= 'success';
        return 'ReportStatus';
      default:
        throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, `unknown state ${String(record.state)}`);
    }
  }
}

function nextOnFailurePath(record: UpdateRecord): UpdateStateName {
  switch (record.state) {
    case 'ArtifactRollback':
    case 'ArtifactRollbackReboot':
    case 'ArtifactVerifyRollbackReboot':
      return 'ArtifactFailure';
    case 'ArtifactFailure':
      return 'Cleanup';
    default:
      return 'ReportStatus';
  }
}
