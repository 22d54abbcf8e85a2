import type { Readable } from 'node:stream';

/**
 * What an installer learns about the update it is installing. The same shape is handed to every
 * step so a step that runs after a restart (power cut, reboot) has all it needs.
 */
export interface InstallContext {
  /** A directory that belongs to this update alone (kept until Cleanup, survives restarts). */
  workDir: string;
  /** The artifact's name (`artifact_provides.artifact_name`). */
  artifactName: string;
  /** Index of the payload in the artifact (0 for single-payload artifacts). */
  payloadIndex: number;
  /** The payload type, e.g. `rootfs-image` or an update module name such as `single-file`. */
  payloadType: string;
  /** The verified header data of this payload, as Mender update modules see it in `header/`. */
  header: {
    /** `header-info` JSON. */
    headerInfo: unknown;
    /** The payload's `type-info` JSON (merged with the augmented one, if any). */
    typeInfo: unknown;
    /** The payload's `meta-data` JSON, or undefined when absent. */
    metaData: unknown;
  };
  /** The device type the device reports. */
  deviceType: string;
  /**
   * The name of the artifact installed before this update (update modules read it from
   * `current_artifact_name`). Optional: installers that need it fall back to their own options.
   */
  currentArtifactName?: string;
  /** The group of the artifact installed before this update (`current_artifact_group`), if any. */
  currentArtifactGroup?: string;
  /** Stops long operations (the agent is shutting down). */
  signal?: AbortSignal;
  /** Receives lines for the deployment log. */
  log: (line: string) => void;
}

/** One payload file, streamed from the verifier; `stream` must be fully consumed (or destroyed on error). */
export interface PayloadFile {
  name: string;
  size: number;
  stream: Readable;
  /**
   * Offered while the agent stages the download for restart resume, when the file's bytes are one
   * contiguous range of the artifact (an uncompressed payload). An installer that writes the file,
   * in order, to one place adopts it so the agent keeps no second copy; any other installer may
   * ignore it (the agent then stages the bytes itself). See {@link PayloadPlacement}.
   */
  placement?: PayloadPlacement | undefined;
  /**
   * The SHA-256 (lowercase hex) the artifact's signed manifest lists for the file, when the agent
   * streams it from a verified artifact. The stream ends only once its bytes matched this digest
   * (else it errors), so an installer that read the stream to its end holds exactly these bytes:
   * {@link writePayloadFile} reports it instead of hashing the bytes a second time.
   */
  sha256?: string | undefined;
}

/**
 * Where a payload file's bytes are written, offered to {@link PayloadPlacement.adopt}: the agent
 * reads the written prefix back after a restart (re-hashing it) instead of keeping its own copy.
 */
export interface PlacementTarget {
  /** The file or block device the bytes go to. */
  path: string;
  /** Offset in `path` of the file's first byte. */
  position: number;
  /**
   * Makes the bytes written so far durable (fsync) and resolves to how many leading bytes of the
   * file are in place. Called by the agent at its checkpoints, concurrently with the writes.
   */
  sync(): Promise<number>;
}

/**
 * The staging side of a payload file (see {@link PayloadFile.placement}). Answer it before
 * reading the stream: `adopt` when the file is written in order to one place, `decline` otherwise.
 * Adopting is a promise that bytes, once `sync` counted them, stay at the target until the update
 * ends, and that the bytes the stream delivers are the ones written there.
 */
export interface PayloadPlacement {
  /**
   * True when an interrupted download of this update left payload bytes in place: an installer
   * must not wipe its targets (e.g. clear a slot directory) before every file was adopted.
   */
  readonly resuming: boolean;
  /**
   * Adopts the written file as the staged copy of its bytes; returns how many leading bytes are
   * already at the target from the interrupted download (0 on a fresh one). The stream still
   * delivers those bytes (they are re-hashed); the target must not be truncated and they need not
   * be written again.
   */
  adopt(target: PlacementTarget): number;
  /** Says the bytes are not kept in one place: the agent stages them itself. */
  decline(): void;
}

/** `NeedsArtifactReboot` as in the Mender update module protocol. */
export type RebootNeed = 'No' | 'Yes' | 'Automatic';

/**
 * The one interface every installer implements. The methods map 1:1 onto the Mender update module
 * protocol states (Download, ArtifactInstall, NeedsArtifactReboot, ArtifactReboot,
 * ArtifactVerifyReboot, ArtifactCommit, SupportsRollback, ArtifactRollback, ArtifactRollbackReboot,
 * ArtifactVerifyRollbackReboot, ArtifactFailure, Cleanup), so an update module can be driven
 * unmodified and a built-in installer behaves like one.
 *
 * Every method must be idempotent where the state machine may repeat it after a power cut: the
 * agent persists its state before calling a step and calls it again if it was interrupted.
 */
export interface Installer {
  /**
   * True when `download` answers each file's {@link PayloadFile.placement} (adopt or decline)
   * before reading its stream. Without it the agent declines for the installer and stages the
   * bytes itself.
   */
  readonly adoptsPlacement?: boolean;
  /** Whether this installer handles the payload type. */
  supports(payloadType: string): boolean;
  /** Download state: receives every payload file of the payload, in artifact order. */
  download(ctx: InstallContext, files: AsyncIterable<PayloadFile>): Promise<void>;
  /** ArtifactInstall: makes the downloaded update the one to boot (or installs it, without reboot). */
  install(ctx: InstallContext): Promise<void>;
  /** NeedsArtifactReboot. */
  needsReboot(ctx: InstallContext): Promise<RebootNeed>;
  /**
   * ArtifactReboot: reboot into the new image. A real device does not return; a simulated one
   * returns after switching. The agent persists its state before calling this.
   */
  reboot(ctx: InstallContext): Promise<void>;
  /** ArtifactVerifyReboot: throws unless the system came up on the new image. */
  verifyReboot(ctx: InstallContext): Promise<void>;
  /** ArtifactCommit: makes the new image permanent. */
  commit(ctx: InstallContext): Promise<void>;
  /** SupportsRollback. */
  supportsRollback(ctx: InstallContext): Promise<boolean>;
  /** ArtifactRollback: makes the previous image the one to boot. */
  rollback(ctx: InstallContext): Promise<void>;
  /** ArtifactRollbackReboot. */
  rollbackReboot(ctx: InstallContext): Promise<void>;
  /** ArtifactVerifyRollbackReboot: throws unless the system is back on the previous image. */
  verifyRollbackReboot(ctx: InstallContext): Promise<void>;
  /** ArtifactFailure: last chance to clean up after a failed update. */
  failure(ctx: InstallContext): Promise<void>;
  /** Cleanup: remove temporary files; always called last. */
  cleanup(ctx: InstallContext): Promise<void>;
}
