import type { KeyObject } from 'node:crypto';
import type { BackoffOptions, HttpClient, HttpClientOptions, Logger } from '@otakit/core';
import type { InventoryValue } from './api/device-api.js';
import type { IdentitySource } from './api/identity.js';
import type { HealthCheck } from './health/health-checks.js';
import type { Installer } from './installers/types.js';
import type { StateScriptOptions } from './scripts/state-scripts.js';
import type { DownloadOptions } from './update/download-step.js';
import type { PauseOptions } from './update/pause.js';
import type { UpdatePolicy } from './update/policy.js';
import type { StatusReportOptions } from './update/status-reporter.js';

/** How often the daemon loop ({@link DeviceClient.run}) talks to the server. Milliseconds. */
export interface PollOptions {
  /** Between deployment checks. Default 1 800 000 (Mender's `UpdatePollIntervalSeconds`, 30 min). */
  updateIntervalMs?: number;
  /** Between inventory updates. Default 28 800 000 (Mender's `InventoryPollIntervalSeconds`, 8 h). */
  inventoryIntervalMs?: number;
  /**
   * Backoff after an error (core's {@link BackoffOptions}). Default Mender's:
   * `{ baseDelayMs: 60_000, maxDelayMs: 300_000, repeats: 3 }` (each ceiling 3 times, doubling,
   * full jitter). A `Retry-After` from the server wins.
   */
  retry?: Partial<BackoffOptions>;
}

/** The daemon loop's default backoff after errors (Mender's `RetryPollIntervalSeconds` rules). */
export const DEFAULT_POLL_RETRY: BackoffOptions = { baseDelayMs: 60_000, maxDelayMs: 300_000, repeats: 3 };

/** The transport options {@link DeviceClient} passes to the {@link HttpClient} it builds. */
export type DeviceTransportOptions = Pick<
  HttpClientOptions,
  'dispatcher' | 'proxy' | 'tls' | 'transport' | 'timeout' | 'maxRetries' | 'retry' | 'userAgent'
>;

/** Options of {@link DeviceClient}. Every duration is in milliseconds. */
export interface DeviceClientOptions extends DeviceTransportOptions {
  /** The Mender server (e.g. `https://hosted.mender.io`). Optional for standalone installs. */
  serverUrl?: string;
  /** Hosted Mender / Enterprise tenant token. */
  tenantToken?: string;
  /** The device's private key (PEM or KeyObject). Required with `serverUrl`. */
  privateKey?: string | KeyObject;
  /** The identity attributes, or an async function producing them. Required with `serverUrl`. */
  identity?: IdentitySource;
  /** The device type (written to `dataDir/device_type`). */
  deviceType: string;
  /** Where the state, provides store, staged downloads and logs live. */
  dataDir: string;
  /** Installers, asked in order which one supports a payload type. */
  installers: Installer[];
  /** Probes run after the reboot into a new image; default: the server can be reached and authenticates. */
  healthChecks?: HealthCheck[];
  /** Signature and version policy. */
  policy?: UpdatePolicy;
  /** Pause hooks, maintenance window, download-only mode. */
  pause?: PauseOptions;
  /** Download: bandwidth cap, stall timeout, attempts and their backoff, staging. */
  download?: DownloadOptions;
  /** The daemon loop's intervals and error backoff. */
  poll?: PollOptions;
  /** Attempts and backoff of the status reports that must get through. */
  statusReports?: StatusReportOptions;
  /** Extra inventory attributes, sent with the defaults (device type, artifact name, provides). */
  inventory?: () => Record<string, InventoryValue> | Promise<Record<string, InventoryValue>>;
  /** State stores of one update before it is failed as a loop. Default 28 (as Mender). */
  maxStateStores?: number;
  /**
   * State scripts: the artifact's `Artifact*` scripts, and `Download_*` from `scriptsDir`.
   * Default: enabled with Mender's timeouts; `false` turns them off.
   */
  stateScripts?: StateScriptOptions | false;
  /** A logger; silent by default. */
  logger?: Logger;
  /** An HttpClient to use instead of building one (the transport options are then ignored). */
  http?: HttpClient;
}

/** Options of {@link DeviceClient.run} and the install calls. */
export interface RunOptions {
  /** Stops the loop (and a running update, which resumes at the next start). */
  signal?: AbortSignal;
}

/** The transport options that are set. @internal */
export function pickTransport(o: DeviceTransportOptions): Partial<HttpClientOptions> {
  const out: Partial<HttpClientOptions> = {};
  for (const k of [
    'dispatcher',
    'proxy',
    'tls',
    'transport',
    'timeout',
    'maxRetries',
    'retry',
    'userAgent',
  ] as const) {
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  }
  return out;
}
