import type { HttpClient } from '@otakit/core';
import type { EventSink } from '../events.js';
import type { HealthCheck } from '../health/health-checks.js';
import type { Installer } from '../installers/types.js';
import type { StateScriptRunner } from '../scripts/state-scripts.js';
import type { ProvidesStore } from '../state/provides-store.js';
import type { StateStore } from '../state/state-store.js';
import type { DeploymentChannel } from './channel.js';
import type { DeploymentLog } from './deployment-log.js';
import type { DownloadOptions } from './download-step.js';
import type { PauseOptions } from './pause.js';
import type { PayloadRunner } from './payload-runner.js';
import type { UpdatePolicy } from './policy.js';
import type { ProceedGate } from './proceed-gate.js';
import type { StatusReporter, StatusReportOptions } from './status-reporter.js';

/** Everything the update machine is built from. @internal */
export interface MachineContext extends EventSink {
  dataDir: string;
  deviceType: string;
  installers: Installer[];
  http: HttpClient;
  /** The server side of deployments; undefined without a server (standalone installs). */
  channel: DeploymentChannel | undefined;
  /** Released by the owner's `proceed()`. */
  gate: ProceedGate;
  states: StateStore;
  provides: ProvidesStore;
  policy: UpdatePolicy;
  pause: PauseOptions;
  download: DownloadOptions;
  statusReports: StatusReportOptions;
  healthChecks: HealthCheck[];
  /** Stores of one update before it is failed as a loop (Mender: 28). */
  maxStateStores: number;
  /** Runs state scripts; none when undefined. */
  scripts?: StateScriptRunner | undefined;
}

/** The context plus the parts the machine builds from it, handed to each step. @internal */
export interface UpdateParts extends MachineContext {
  log: DeploymentLog;
  reporter: StatusReporter;
  payloads: PayloadRunner;
}
