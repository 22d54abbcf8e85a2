import { throwIfAborted } from '../durable-fs.js';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { type CommandResult, runCommand } from '../run-command.js';
import type { InstallContext } from '../types.js';
import { clearRunning, reapOrphan, recordRunning } from './orphans.js';

/** The states of the update module protocol v3, as passed in the first argument. */
export type ModuleState =
  | 'ProvidePayloadFileSizes'
  | 'Download'
  | 'DownloadWithFileSizes'
  | 'ArtifactInstall'
  | 'NeedsArtifactReboot'
  | 'ArtifactReboot'
  | 'ArtifactVerifyReboot'
  | 'ArtifactCommit'
  | 'SupportsRollback'
  | 'ArtifactRollback'
  | 'ArtifactRollbackReboot'
  | 'ArtifactVerifyRollbackReboot'
  | 'ArtifactFailure'
  | 'Cleanup';

/**
 * Runs `MODULE STATE FILE_TREE` in the tree under a time limit, copying its output lines into the
 * deployment log and recording its pid (so a module orphaned by a power cut is stopped at the next
 * start).
 * @throws {@link InstallerError} `ERR_INSTALLER_MODULE_TIMEOUT`, `ERR_INSTALLER_ABORTED` or
 *   `ERR_INSTALLER_MODULE_FAILED` (non-zero exit).
 * @internal
 */
export async function invokeModule(
  ctx: InstallContext,
  module: string,
  state: ModuleState,
  tree: string,
  limits: { timeoutMs: number; killGraceMs: number; runningPath: string },
  signal: AbortSignal | undefined = ctx.signal,
): Promise<CommandResult> {
  throwIfAborted(signal);
  const prefix = `${ctx.payloadType} ${state}`;
  const running = limits.runningPath;
  await reapOrphan(running, ctx.log);
  let result: CommandResult;
  try {
    result = await runCommand([module, state, tree], {
      cwd: tree,
      timeoutMs: limits.timeoutMs,
      killGraceMs: limits.killGraceMs,
      signal,
      onSpawn: (pid) => {
        try {
          recordRunning(running, pid, state);
        } catch (err) {
          ctx.log(`${prefix}: could not record the module's pid: ${(err as Error).message}`);
        }
      },
      onLine: (stream, line) => ctx.log(`${prefix}${stream === 'stderr' ? ' (stderr)' : ''}: ${line}`),
    });
  } finally {
    clearRunning(running);
  }
  if (result.timedOut) {
    throw new InstallerError(
      InstallerErrorCodes.MODULE_TIMEOUT,
      `${prefix}: no result within ${limits.timeoutMs} ms, killed`,
    );
  }
  if (result.aborted) throw new InstallerError(InstallerErrorCodes.ABORTED, `${prefix}: aborted`);
  if (result.code !== 0) {
    throw new InstallerError(
      InstallerErrorCodes.MODULE_FAILED,
      `${prefix} failed (exit ${result.code ?? result.signal})${result.stderr.trim() === '' ? '' : `: ${lastLine(result.stderr)}`}`,
    );
  }
  return result;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}
