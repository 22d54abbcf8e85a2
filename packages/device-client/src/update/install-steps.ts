import { DeviceError, DeviceErrorCodes } from '../errors.js';
import { safeEmit } from '../events.js';
import { runHealthChecks } from '../health/health-checks.js';
import type { RebootNeed } from '../installers/types.js';
import type { UpdateParts } from './context.js';
import { holdAtPausePoint } from './pause.js';
import type { UpdateRecord, UpdateStateName } from './states.js';

/** ArtifactInstall: every payload installed; the reboot need decides the next state. @internal */
export async function installStep(
  m: UpdateParts,
  record: UpdateRecord,
  signal?: AbortSignal,
): Promise<UpdateStateName> {
  await holdAtPausePoint(m, record, 'beforeInstall', signal);
  await m.reporter.report(record, 'installing', false, signal);
  if (!record.installed) {
    record.installed = true;
    await m.states.save(record);
  }
  await m.payloads.each(record, (i, ctx) => i.install(ctx));
  let need: RebootNeed = 'No';
  await m.payloads.each(record, async (i, ctx) => {
    const n = await i.needsReboot(ctx);
    if (n === 'Yes' || (n === 'Automatic' && need === 'No')) need = n;
  });
  record.rebootNeed = need;
  return need === 'No' ? 'ArtifactCommit' : 'ArtifactReboot';
}

/** ArtifactReboot: the state to resume in is persisted first (a real reboot does not return). @internal */
export async function rebootStep(
  m: UpdateParts,
  record: UpdateRecord,
  signal?: AbortSignal,
): Promise<UpdateStateName> {
  await holdAtPausePoint(m, record, 'beforeReboot', signal);
  await m.reporter.report(record, 'rebooting', false, signal);
  record.state = 'ArtifactVerifyReboot';
  await m.states.save(record);
  await m.payloads.each(
    record,
    async (i, ctx) => {
      if ((await i.needsReboot(ctx)) !== 'No') await i.reboot(ctx);
    },
    { dedupe: true },
  );
  return 'ArtifactVerifyReboot';
}

/** ArtifactVerifyReboot: the installers check the new image runs, then the health checks. @internal */
export async function verifyRebootStep(
  m: UpdateParts,
  record: UpdateRecord,
  signal?: AbortSignal,
): Promise<UpdateStateName> {
  await m.payloads.each(record, (i, ctx) => i.verifyReboot(ctx));
  // The Leave scripts of a reboot run after it.
  await m.payloads.scripts(record, 'ArtifactReboot', 'Leave', false, signal);
  await healthCheck(m, record, signal);
  return 'ArtifactCommit';
}

async function healthCheck(m: UpdateParts, record: UpdateRecord, signal?: AbortSignal): Promise<void> {
  if (m.healthChecks.length === 0) return;
  const results = await runHealthChecks(m.healthChecks, signal);
  safeEmit(m, 'health:result', { updateId: record.id, results });
  for (const r of results) {
    await m.log.append(
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

/**
 * ArtifactCommit: health checks (when there was no reboot), the pause point, the `installing`
 * report that must get through, the installers' commit, then the provides store.
 * @internal
 */
export async function commitStep(
  m: UpdateParts,
  record: UpdateRecord,
  signal?: AbortSignal,
): Promise<UpdateStateName> {
  if (record.rebootNeed === 'No') await healthCheck(m, record, signal);
  await holdAtPausePoint(m, record, 'beforeCommit', signal);
  await m.reporter.report(record, 'installing', true, signal);
  await m.payloads.each(record, (i, ctx) => i.commit(ctx));
  const a = record.artifact!;
  await m.provides.commit({
    artifactName: a.name,
    artifactGroup: a.group,
    provides: a.provides,
    clearsProvides: a.clearsProvides,
  });
  await m.log.append(record, 'info', `committed ${a.name}`);
  record.outcome = 'success';
  return 'Cleanup';
}

/** ArtifactRollback, in reverse payload order; without rollback support, straight to ArtifactFailure. @internal */
export async function rollbackStep(m: UpdateParts, record: UpdateRecord): Promise<UpdateStateName> {
  let supported = true;
  await m.payloads.each(record, async (i, ctx) => {
    if (!(await i.supportsRollback(ctx))) supported = false;
  });
  if (!supported) {
    await m.log.append(record, 'error', 'the installer does not support rollback');
    return 'ArtifactFailure';
  }
  await m.payloads.each(record, (i, ctx) => i.rollback(ctx), { reverse: true });
  return record.rebootNeed && record.rebootNeed !== 'No' ? 'ArtifactRollbackReboot' : 'ArtifactFailure';
}

/** ArtifactRollbackReboot: persists the verify state first, as the forward reboot does. @internal */
export async function rollbackRebootStep(m: UpdateParts, record: UpdateRecord): Promise<UpdateStateName> {
  record.state = 'ArtifactVerifyRollbackReboot';
  await m.states.save(record);
  await m.payloads.each(record, (i, ctx) => i.rollbackReboot(ctx), { dedupe: true });
  return 'ArtifactVerifyRollbackReboot';
}
