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
