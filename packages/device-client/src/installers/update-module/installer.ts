import { constants, statSync } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import { mkdirDurable } from '../durable-fs.js';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { storePayloadFile } from '../payload-files.js';
import type { CommandResult } from '../run-command.js';
import type { InstallContext, Installer, PayloadFile, RebootNeed } from '../types.js';
import { mkfifo } from './fifo.js';
import { type CurrentArtifact, writeFileTree } from './file-tree.js';
import { invokeModule, type ModuleState } from './invoke.js';
import { reapOrphan } from './orphans.js';
import { feedStreams } from './stream-feed.js';

export type { ModuleState } from './invoke.js';

/** Options of {@link UpdateModuleInstaller}. */
export interface UpdateModuleInstallerOptions {
  /** The directory of the modules (Mender: `/usr/share/mender/modules/v3`); the payload type is the file name. */
  modulesDir: string;
  /**
   * Where the file trees are built: `<workDir>/payloads/<NNNN>/tree` (Mender:
   * `/var/lib/mender/modules/v3`). Default: `<ctx.workDir>/modules/v3`.
   */
  workDir?: string;
  /**
   * Time limit of each state invocation, in ms (default 14 400 000: 4 h, Mender's
   * `ModuleTimeoutSeconds`).
   */
  timeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL for a module past its time limit, in ms (default 2000). */
  killGraceMs?: number;
  /**
   * The installed artifact, for `current_artifact_name` / `current_artifact_group` when the context
   * does not carry `currentArtifactName`.
   */
  currentArtifact?: () => Promise<CurrentArtifact>;
  /**
   * Reboots the device when a module answers `Automatic` to NeedsArtifactReboot (the client reboots
   * instead of the module). Without it, such a reboot fails the step.
   */
  systemReboot?: () => Promise<void>;
}

/** What is kept next to the tree across restarts. */
interface PayloadRecord {
  module: string;
  /** How the payload reached the module: streamed during Download, or stored in `files/`. */
  mode?: 'streams' | 'files';
  downloaded: boolean;
  needsReboot?: RebootNeed;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/**
 * Runs Mender update modules (protocol v3) unmodified. A payload type is supported when an
 * executable of that name is in `modulesDir`. Each state calls `MODULE STATE FILE_TREE` with the
 * tree as working directory, a time limit, and stdout/stderr lines copied into the deployment log.
 *
 * Download streams each payload file through `stream-next` and FIFOs under `streams/` while the
 * module reads them; a module that exits from Download without opening `stream-next` gets the files
 * stored in `files/` instead (file-tree mode), as the Mender client does.
 *
 * @example
 * ```ts
 * const installer = new UpdateModuleInstaller({ modulesDir: '/usr/share/mender/modules/v3' });
 * installer.supports('single-file'); // true when /usr/share/mender/modules/v3/single-file exists
 * ```
 */
export class UpdateModuleInstaller implements Installer {
  readonly #modulesDir: string;
  readonly #workDir: string | undefined;
  readonly #timeoutMs: number;
  readonly #killGraceMs: number;
  readonly #currentArtifact: (() => Promise<CurrentArtifact>) | undefined;
  readonly #systemReboot: (() => Promise<void>) | undefined;

  constructor(options: UpdateModuleInstallerOptions) {
    this.#modulesDir = options.modulesDir;
    this.#workDir = options.workDir;
    this.#timeoutMs = options.timeoutMs ?? 14_400_000;
    this.#killGraceMs = options.killGraceMs ?? 2000;
    this.#currentArtifact = options.currentArtifact;
    this.#systemReboot = options.systemReboot;
  }

  /**
   * Whether an executable named `payloadType` is in the modules directory. Names that are not plain
   * file names (`../x`, `a/b`) are never supported, so a payload type cannot run a program elsewhere.
   */
  supports(payloadType: string): boolean {
    if (!NAME_RE.test(payloadType)) return false;
    const path = join(this.#modulesDir, payloadType);
    try {
      if (!statSync(path).isFile()) return false;
      return (statSync(path).mode & 0o111) !== 0;
    } catch {
      return false;
    }
  }

  /** The file tree directory of a payload (it exists from Download until Cleanup). */
  treeDir(ctx: InstallContext): string {
    return join(this.#payloadDir(ctx), 'tree');
  }

  /** @inheritDoc */
  async download(ctx: InstallContext, files: AsyncIterable<PayloadFile>): Promise<void> {
    const module = this.#modulePath(ctx);
    const payloadDir = this.#payloadDir(ctx);
    const tree = this.treeDir(ctx);
    // A restarted Download starts from an empty tree, after stopping a module still running from
    // before the restart.
    await reapOrphan(this.#runningPath(ctx), ctx.log);
    await rm(payloadDir, { recursive: true, force: true });
    await mkdirDurable(payloadDir);
    const record: PayloadRecord = { module: ctx.payloadType, downloaded: false };
    await this.#writeRecord(ctx, record);
    await writeFileTree(tree, ctx, await this.#current(ctx));

    // Optional in the protocol: a module that fails or answers oddly gets names without sizes.
    const sizes = await this.#query(ctx, 'ProvidePayloadFileSizes', ['Yes', 'No'], 'No').catch(
      (err: unknown) => {
        if (err instanceof InstallerError && err.code === InstallerErrorCodes.MODULE_FAILED) {
          ctx.log(
            `${ctx.payloadType}: ProvidePayloadFileSizes failed (${err.message}); streaming without sizes`,
          );
          return 'No';
        }
        throw err;
      },
    );
    const streamNext = join(tree, 'stream-next');
    await mkdir(join(tree, 'streams'));
    await mkfifo(streamNext);

    const iterator = files[Symbol.asyncIterator]();
    let exited = false;
    // A feeder failure (bad file name, producer error) stops the module: it may be blocked on a FIFO.
    const stop = new AbortController();
    const signal = ctx.signal === undefined ? stop.signal : AbortSignal.any([ctx.signal, stop.signal]);
    // A module that asked for file sizes is called with DownloadWithFileSizes (Mender 4+), and reads
    // `streams/NAME SIZE` lines from stream-next.
    const downloadState = sizes === 'Yes' ? 'DownloadWithFileSizes' : 'Download';
    const run = invokeModule(ctx, module, downloadState, tree, this.#limits(ctx), signal).finally(() => {
      exited = true;
    });
    let stoppedModule = false;
    const feed = feedStreams(ctx, tree, iterator, sizes === 'Yes', () => exited).catch((err: unknown) => {
      if (!exited) {
        stoppedModule = true;
        stop.abort();
      }
      throw err;
    });
    const [runResult, feedResult] = await Promise.allSettled([run, feed]);
    if (runResult.status === 'rejected' || feedResult.status === 'rejected') {
      await drain(iterator);
      // The module's own failure explains a broken stream better than the EPIPE does, unless we
      // stopped the module ourselves.
      if (runResult.status === 'rejected' && !stoppedModule) throw runResult.reason;
      throw feedResult.status === 'rejected'
        ? feedResult.reason
        : (runResult as PromiseRejectedResult).reason;
    }
    const streamed = feedResult.value;
    await rm(streamNext, { force: true });
    await rm(join(tree, 'streams'), { recursive: true, force: true });

    if (!streamed) {
      // File-tree mode: the module did not read stream-next, so the client stores the files.
      const filesDir = join(tree, 'files');
      await mkdir(filesDir);
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        const written = await storePayloadFile(filesDir, next.value, ctx.signal).catch(
          async (err: unknown) => {
            await drain(iterator);
            throw err;
          },
        );
        ctx.log(`${ctx.payloadType}: stored ${next.value.name} (${written.size} bytes) in files/`);
      }
      await fsyncDir(filesDir);
    }
    record.mode = streamed ? 'streams' : 'files';
    record.downloaded = true;
    await this.#writeRecord(ctx, record);
  }

  /** @inheritDoc */
  async install(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    if (record === undefined || !record.downloaded) {
      throw new InstallerError(InstallerErrorCodes.BAD_STATE, 'install called before the download completed');
    }
    await this.#state(ctx, 'ArtifactInstall');
  }

  /** @inheritDoc */
  async needsReboot(ctx: InstallContext): Promise<RebootNeed> {
    const answer = (await this.#query(
      ctx,
      'NeedsArtifactReboot',
      ['No', 'Yes', 'Automatic'],
      'No',
    )) as RebootNeed;
    const record = await this.#readRecord(ctx);
    if (record !== undefined) await this.#writeRecord(ctx, { ...record, needsReboot: answer });
    return answer;
  }

  /**
   * ArtifactReboot: runs the module's ArtifactReboot when it answered `Yes`, or the configured
   * `systemReboot` when it answered `Automatic`.
   */
  async reboot(ctx: InstallContext): Promise<void> {
    const record = await this.#readRecord(ctx);
    const need = record?.needsReboot ?? (await this.needsReboot(ctx));
    if (need === 'Automatic') {
      if (this.#systemReboot === undefined) {
        throw new InstallerError(
          InstallerErrorCodes.UNSUPPORTED,
          `${ctx.payloadType} asks for an automatic reboot, but no systemReboot was configured`,
        );
      }
      ctx.log(`${ctx.payloadType}: rebooting the system (NeedsArtifactReboot=Automatic)`);
      await this.#systemReboot();
      return;
    }
    if (need === 'No') return;
    await this.#state(ctx, 'ArtifactReboot');
  }

  /** @inheritDoc */
  async verifyReboot(ctx: InstallContext): Promise<void> {
    await this.#state(ctx, 'ArtifactVerifyReboot');
  }

  /** @inheritDoc */
  async commit(ctx: InstallContext): Promise<void> {
    await this.#state(ctx, 'ArtifactCommit');
  }

  /** @inheritDoc */
  async supportsRollback(ctx: InstallContext): Promise<boolean> {
    return (await this.#query(ctx, 'SupportsRollback', ['Yes', 'No'], 'No')) === 'Yes';
  }

  /** @inheritDoc */
  async rollback(ctx: InstallContext): Promise<void> {
    await this.#state(ctx, 'ArtifactRollback');
  }

  /** @inheritDoc */
  async rollbackReboot(ctx: InstallContext): Promise<void> {
    await this.#state(ctx, 'ArtifactRollbackReboot');
  }

  /** @inheritDoc */
  async verifyRollbackReboot(ctx: InstallContext): Promise<void> {
    await this.#state(ctx, 'ArtifactVerifyRollbackReboot');
  }

  /** @inheritDoc */
  async failure(ctx: InstallContext): Promise<void> {
    await this.#state(ctx, 'ArtifactFailure');
  }

  /** Cleanup: runs the module's Cleanup, then removes the file tree. */
  async cleanup(ctx: InstallContext): Promise<void> {
    try {
      if (this.supports(ctx.payloadType)) await this.#state(ctx, 'Cleanup');
    } finally {
      await rm(this.#payloadDir(ctx), { recursive: true, force: true });
    }
  }

  // -------------------------------------------------------------------------------------------------

  /** Runs a state, rebuilding the tree first if it is gone (e.g. Cleanup after a failed start). */
  async #state(ctx: InstallContext, state: ModuleState): Promise<CommandResult> {
    const module = this.#modulePath(ctx);
    const tree = this.treeDir(ctx);
    if (!(await exists(join(tree, 'version')))) {
      await mkdir(this.#payloadDir(ctx), { recursive: true });
      await writeFileTree(tree, ctx, await this.#current(ctx));
    }
    return invokeModule(ctx, module, state, tree, this.#limits(ctx));
  }

  /** Runs a query state and maps its one-word answer; empty output means `fallback`. */
  async #query(
    ctx: InstallContext,
    state: ModuleState,
    allowed: readonly string[],
    fallback: string,
  ): Promise<string> {
    const result = await this.#state(ctx, state);
    const lines = result.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const answer = lines.at(-1) ?? fallback;
    if (!allowed.includes(answer)) {
      throw new InstallerError(
        InstallerErrorCodes.MODULE_FAILED,
        `${ctx.payloadType} ${state}: unexpected answer ${JSON.stringify(answer)} (expected ${allowed.join(', ')})`,
      );
    }
    return answer;
  }

  #limits(ctx: InstallContext): { timeoutMs: number; killGraceMs: number; runningPath: string } {
    return {
      timeoutMs: this.#timeoutMs,
      killGraceMs: this.#killGraceMs,
      runningPath: this.#runningPath(ctx),
    };
  }

  #modulePath(ctx: InstallContext): string {
    if (!this.supports(ctx.payloadType)) {
      throw new InstallerError(
        InstallerErrorCodes.UNSUPPORTED,
        `no update module ${JSON.stringify(ctx.payloadType)} in ${this.#modulesDir}`,
      );
    }
    return join(this.#modulesDir, ctx.payloadType);
  }

  async #current(ctx: InstallContext): Promise<CurrentArtifact> {
    if (ctx.currentArtifactName !== undefined) {
      return ctx.currentArtifactGroup === undefined
        ? { name: ctx.currentArtifactName }
        : { name: ctx.currentArtifactName, group: ctx.currentArtifactGroup };
    }
    if (this.#currentArtifact !== undefined) return this.#currentArtifact();
    return { name: '' };
  }

  #payloadDir(ctx: InstallContext): string {
    const base = this.#workDir ?? join(ctx.workDir, 'modules', 'v3');
    return join(base, 'payloads', String(ctx.payloadIndex).padStart(4, '0'));
  }

  /** Kept outside the payload directory: it must survive the Download's wipe of that directory. */
  #runningPath(ctx: InstallContext): string {
    return `${this.#payloadDir(ctx)}.running.json`;
  }

  #recordPath(ctx: InstallContext): string {
    return join(this.#payloadDir(ctx), 'otakit-module.json');
  }

  async #readRecord(ctx: InstallContext): Promise<PayloadRecord | undefined> {
    return readJsonFile<PayloadRecord>(this.#recordPath(ctx));
  }

  async #writeRecord(ctx: InstallContext, record: PayloadRecord): Promise<void> {
    await writeJsonFileAtomic(this.#recordPath(ctx), record);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Releases the producer after a failure: destroys the remaining files' streams. */
async function drain(iterator: AsyncIterator<PayloadFile>): Promise<void> {
  try {
    await iterator.return?.();
  } catch {
    // The producer failed too; nothing more to release.
  }
}
