/**
 * Update modules that outlive the agent. Modules run in their own process group; when the agent is
 * killed mid-state (power cut of the agent process, SIGKILL, OOM), the module keeps running. The
 * group's leader pid and start time are recorded before the state runs, and the next call for the
 * same payload kills a recorded group that is still there, so two copies of a module never work
 * on the same file tree.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

interface RunningRecord {
  pid: number;
  startTime: string | undefined;
  state: string;
}

/** The start time (in clock ticks since boot) of a process, from /proc; undefined when gone. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Records the running module (synchronously: the record must be on disk before anything else can
 * happen to this process).
 */
export function recordRunning(file: string, pid: number, state: string): void {
  const record: RunningRecord = { pid, startTime: startTimeOf(pid), state };
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, JSON.stringify(record));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Forgets the record once the module exited. */
export function clearRunning(file: string): void {
  rmSync(file, { force: true });
}

/**
 * Kills the process group of a module recorded in `file` that is still running (left over from a
 * previous run of the agent). A leader whose start time differs is another process that reused
 * the pid, and is left alone. Waits (bounded) for the group to go.
 */
export async function reapOrphan(file: string, log: (line: string) => void): Promise<void> {
  let record: RunningRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as RunningRecord;
  } catch {
    return;
  }
  if (!Number.isInteger(record.pid) || record.pid <= 1) {
    clearRunning(file);
    return;
  }
  const start = startTimeOf(record.pid);
  // Leader alive with another start time: the pid was reused and our group is long gone.
  const ours = start === undefined ? groupAlive(record.pid) : start === record.startTime;
  if (ours) {
    log(
      `killing the ${record.state} update module left running by a previous run (process group ${record.pid})`,
    );
    try {
      process.kill(-record.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
    for (let i = 0; i < 100 && startTimeOf(record.pid) === record.startTime && isRunning(record.pid); i++) {
      await sleep(20);
    }
  }
  clearRunning(file);
}

/** Whether a process exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
