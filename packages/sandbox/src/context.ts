import type { FaultController } from './faults.js';
import type { ServerSecrets } from './signing.js';
import type { Store } from './store.js';

/** Everything a route module needs. @internal */
export interface SandboxContext {
  store: Store;
  secrets: ServerSecrets;
  faults: FaultController;
  adminEmail: string;
  adminPassword: string;
  /** The admin user's stable id. */
  adminUserId: string;
  /** Directory the uploaded .mender files are kept in. */
  artifactsDir: string;
  /** `iss` of device JWTs (the real server's default is `Mender`). */
  deviceIssuer: string;
  /** `iss` of user JWTs and PATs (the real server's default is `mender.useradm`). */
  userIssuer: string;
  /** Device token lifetime in seconds. */
  deviceTokenTtl: number;
  /** User token lifetime in seconds. */
  userTokenTtl: number;
  /** Whether the v2 `next` route is served (start option; the fault switch can still 404 it). */
  v2Next: boolean;
  /** Public keys uploaded artifacts' signatures are verified with (none: signatures not checked). */
  trustedKeys?: string[];
  /** Most devices that may be accepted at once; -1 = unlimited. */
  maxDevices: number;
  /** When the sandbox started (RFC 3339): the admin user's creation time. */
  startedAt: string;
  /** The clock; injectable for tests. */
  now: () => Date;
}

/** Seconds since the epoch of `ctx.now()`. @internal */
export const nowSeconds = (ctx: SandboxContext): number => Math.floor(ctx.now().getTime() / 1000);

/** RFC 3339 timestamp of `ctx.now()`. @internal */
export const nowIso = (ctx: SandboxContext): string => ctx.now().toISOString();
