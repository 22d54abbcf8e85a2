import type { Logger } from '@otakit/core';
import type { EventEmitter } from 'eventemitter3';
import type { HealthCheckResult } from './health/health-checks.js';
import type { PausePoint } from './update/pause.js';
import type { DeploymentStatus, UpdateOutcome, UpdateSource, UpdateStateName } from './update/states.js';

/**
 * The typed events of a {@link DeviceClient} (`client.events.on('state:enter', ...)`). Listeners
 * must not throw (an error thrown by a listener is logged and ignored).
 */
export interface DeviceClientEvents {
  /** The server answered 401 to the auth request: the device waits for acceptance. */
  'auth:pending': (e: { retryInMs: number }) => void;
  /** The device got a token. */
  'auth:accepted': (e: Record<string, never>) => void;
  /** Inventory was sent. */
  'inventory:sent': (e: { attributes: number }) => void;
  /** A deployment check finished. */
  'update:check': (e: { deploymentId?: string | undefined; artifactName?: string | undefined }) => void;
  /** An update starts (fresh) or resumes (after a restart). */
  'update:start': (e: { updateId: string; source: UpdateSource['kind']; resumed: boolean }) => void;
  /** The machine enters a state (after persisting it). */
  'state:enter': (e: { updateId: string; state: UpdateStateName; storeCount: number }) => void;
  /** A status report was sent (or failed: `error`). */
  'deployment:status': (e: {
    deploymentId: string;
    status: DeploymentStatus;
    error?: string | undefined;
  }) => void;
  /** Download progress. */
  'download:progress': (e: {
    updateId: string;
    bytes: number;
    totalBytes: number | undefined;
    networkBytes: number;
  }) => void;
  /** The download resumes after a fault. */
  'download:retry': (e: {
    updateId: string;
    attempt: number;
    delayMs: number;
    reason: string;
    offset: number;
  }) => void;
  /** The update is held at a pause point. */
  'update:paused': (e: { updateId: string; point: PausePoint; reason: string; retryInMs: number }) => void;
  /** Health check results after the reboot. */
  'health:result': (e: { updateId: string; results: HealthCheckResult[] }) => void;
  /** An update finished. */
  'update:done': (e: {
    updateId: string;
    deploymentId?: string | undefined;
    outcome: UpdateOutcome;
    artifactName?: string | undefined;
    error?: string | undefined;
  }) => void;
  /** A deployment-log line. */
  log: (e: { updateId: string; level: string; message: string }) => void;
  /** The daemon loop waits before its next action. */
  'agent:wait': (e: { reason: string; delayMs: number }) => void;
  /** The daemon loop met an error and will retry. */
  'agent:error': (e: { during: string; error: unknown }) => void;
}

/** Where events go, and where a throwing listener is reported. @internal */
export interface EventSink {
  events: EventEmitter<DeviceClientEvents>;
  logger: Logger;
}

/** Emits an event; a listener that throws is logged, never allowed to break the update. @internal */
export function safeEmit<E extends keyof DeviceClientEvents>(
  sink: EventSink,
  event: E,
  payload: Parameters<DeviceClientEvents[E]>[0],
): void {
  try {
    (sink.events.emit as (e: E, p: unknown) => boolean)(event, payload);
  } catch (err) {
    sink.logger.error(`otakit device: a '${event}' listener threw`, { error: errorMessage(err) });
  }
}

/** The message of anything thrown. @internal */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
