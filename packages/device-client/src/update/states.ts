/** The states of an update, named as in the Mender client. */
export type UpdateStateName =
  | 'Download'
  | 'ArtifactInstall'
  | 'ArtifactReboot'
  | 'ArtifactVerifyReboot'
  | 'ArtifactCommit'
  | 'ArtifactRollback'
  | 'ArtifactRollbackReboot'
  | 'ArtifactVerifyRollbackReboot'
  | 'ArtifactFailure'
  | 'Cleanup'
  | 'ReportStatus';

/** The status values a device reports to Mender. */
export type DeploymentStatus =
  | 'downloading'
  | 'installing'
  | 'rebooting'
  | 'success'
  | 'failure'
  | 'already-installed'
  | 'pause_before_installing'
  | 'pause_before_rebooting'
  | 'pause_before_committing';

/** How an update ended. */
export type UpdateOutcome = 'success' | 'failure' | 'aborted';

/** Where the artifact of an update comes from. */
export type UpdateSource =
  | { kind: 'deployment'; deploymentId: string; url: string; expire?: string | undefined }
  | { kind: 'url'; url: string }
  | { kind: 'file'; path: string };

/** One payload of the artifact being installed. */
export interface PayloadRecord {
  index: number;
  type: string;
  typeInfo: unknown;
  metaData: unknown;
}

/** What the agent knows of the artifact once its header has been read and verified. */
export interface ArtifactRecord {
  name: string;
  group?: string | undefined;
  provides: Record<string, string>;
  clearsProvides?: string[] | undefined;
  headerInfo: unknown;
  payloads: PayloadRecord[];
  signed: boolean;
}

/**
 * The persisted state of the update in progress (`dataDir/update-state.json`). It is written
 * atomically before every step, so after a crash the agent knows where to continue.
 */
export interface UpdateRecord {
  /** Format version of this record. */
  version: 1;
  /** Unique id of this update (the deployment id, or a generated one for standalone installs). */
  id: string;
  source: UpdateSource;
  /** The state to run (or re-run) next. */
  state: UpdateStateName;
  /** How many times the record has been stored; capped to stop reboot and crash loops. */
  storeCount: number;
  /** Set once the artifact header is known. */
  artifact?: ArtifactRecord | undefined;
  /** The artifact installed when the update started (update modules get it as `current_artifact_name`). */
  previous?: { name: string; group?: string | undefined } | undefined;
  /** Whether ArtifactInstall was entered (from then on a failure rolls back). */
  installed?: boolean;
  /** Whether the installer asked for a reboot. */
  rebootNeed?: 'No' | 'Yes' | 'Automatic';
  /** How the update ends; set when the machine enters the failure/cleanup path. */
  outcome?: UpdateOutcome;
  /** The first error that sent the update down the failure path. */
  error?: { code?: string | undefined; message: string } | undefined;
  /** When the update started (ISO 8601). */
  startedAt: string;
}
