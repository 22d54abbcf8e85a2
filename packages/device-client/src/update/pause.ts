import { sleep } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import { type EventSink, safeEmit } from '../events.js';
import type { DeploymentLog } from './deployment-log.js';
import type { ProceedGate } from './proceed-gate.js';
import type { UpdateRecord } from './states.js';
import type { StatusReporter } from './status-reporter.js';

/** The points where an update can be held before it disrupts the device. */
export type PausePoint = 'beforeInstall' | 'beforeReboot' | 'beforeCommit';

/** What a pause hook decides: go on, hold (and ask again later), or fail the update. */
export type PauseDecision = 'continue' | 'pause' | 'fail' | { action: 'pause'; retryAfterMs: number };

/** A hook asked at a pause point. */
export type PauseHook = (info: {
  point: PausePoint;
  updateId: string;
  artifactName: string;
}) => PauseDecision | Promise<PauseDecision>;

/** A daily maintenance window (`'HH:MM'`, local time unless `utc`); may cross midnight. */
export interface MaintenanceWindow {
  start: string;
  end: string;
  utc?: boolean;
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

/** Whether `now` lies in the window. */
export function inMaintenanceWindow(
  window: MaintenanceWindow | ((now: Date) => boolean),
  now = new Date(),
): boolean {
  if (typeof window === 'function') return window(now);
  const minutes = (hhmm: string) => {
    const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
    if (!m) throw new TypeError(`maintenance window time must be HH:MM, got ${hhmm}`);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const start = minutes(window.start);
  const end = minutes(window.end);
  const cur = window.utc
    ? now.getUTCHours() * 60 + now.getUTCMinutes()
    : now.getHours() * 60 + now.getMinutes();
  return start <= end ? cur >= start && cur < end : cur >= start || cur < end;
}

const PAUSE_STATUS = {
  beforeInstall: 'pause_before_installing',
  beforeReboot: 'pause_before_rebooting',
  beforeCommit: 'pause_before_committing',
} as const;

/** What {@link holdAtPausePoint} works with. @internal */
export interface PauseContext extends EventSink {
  pause: PauseOptions;
  gate: ProceedGate;
  reporter: StatusReporter;
  log: DeploymentLog;
}

/**
 * Holds the update at a pause point while download-only mode, the maintenance window or a hook says
 * so: reports `pause_before_*` once, then re-checks every `recheckMs` (or the hook's
 * `retryAfterMs`), or at once on `proceed()`.
 * @throws {@link DeviceError} `ERR_DEVICE_HOOK_FAILED` when a hook fails the update.
 * @internal
 */
export async function holdAtPausePoint(
  c: PauseContext,
  record: UpdateRecord,
  point: PausePoint,
  signal?: AbortSignal,
): Promise<void> {
  const p = c.pause;
  let reported = false;
  for (;;) {
    let decision: PauseDecision = 'continue';
    let reason = '';
    if (point === 'beforeInstall' && p.downloadOnly && !c.gate.isReleased(record.id)) {
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
    if (decision === 'fail') {
      throw new DeviceError(DeviceErrorCodes.HOOK_FAILED, `the ${point} hook failed the update`);
    }
    const retryInMs = typeof decision === 'object' ? decision.retryAfterMs : (p.recheckMs ?? 60_000);
    if (!reported) {
      reported = true;
      await c.reporter.report(record, PAUSE_STATUS[point], false, signal);
      await c.log.append(record, 'info', `paused ${point}: ${reason}`);
    }
    safeEmit(c, 'update:paused', { updateId: record.id, point, reason, retryInMs });
    // Re-check after the interval, or at once on proceed(); the losing timer is cancelled.
    const wake = new AbortController();
    const sleepSignal = signal ? AbortSignal.any([signal, wake.signal]) : wake.signal;
    await Promise.race([sleep(retryInMs, sleepSignal).catch(() => {}), c.gate.wait()]);
    wake.abort();
    signal?.throwIfAborted();
  }
}
