import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxContext } from './context.js';
import { unauthorized } from './errors.js';
import { verifyJwt } from './signing.js';

/** The caller of a device route. */
export interface DeviceCaller {
  deviceId: string;
  jti: string;
}

/** The caller of a management route. */
export interface UserCaller {
  userId: string;
  jti: string;
  /** Set when the caller used a personal access token. */
  patId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Raw bytes of a JSON body (for signature checks). */
    rawBody?: Buffer;
    device?: DeviceCaller;
    user?: UserCaller;
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

/** Checks a device token: signature, expiry, known jti, accepted auth set, device not decommissioning. @internal */
export async function authenticateDevice(
  ctx: SandboxContext,
  token: string | undefined,
): Promise<DeviceCaller | undefined> {
  if (!token) return undefined;
  const claims = await verifyJwt(token, ctx.secrets.jwtPublicKey, ctx.now());
  if (claims?.['mender.device'] !== true) return undefined;
  const record = ctx.store.state.deviceTokens[claims.jti];
  if (!record || record.device_id !== claims.sub) return undefined;
  const device = ctx.store.state.devices[record.device_id];
  if (!device || device.decommissioning) return undefined;
  const authSet = device.auth_sets.find((a) => a.id === record.auth_set_id);
  if (authSet?.status !== 'accepted') return undefined;
  return { deviceId: device.id, jti: claims.jti };
}

/** Checks a management JWT or personal access token. @internal */
export async function authenticateUser(
  ctx: SandboxContext,
  token: string | undefined,
): Promise<UserCaller | undefined> {
  if (!token) return undefined;
  const claims = await verifyJwt(token, ctx.secrets.jwtPublicKey, ctx.now());
  if (claims?.['mender.user'] !== true || claims.sub !== ctx.adminUserId) return undefined;
  if (ctx.store.state.revokedUserTokens[claims.jti] !== undefined) return undefined;
  if (claims['mender.pat'] === true) {
    const pat = ctx.store.state.pats[claims.jti];
    if (!pat) return undefined;
    pat.last_used = ctx.now().toISOString();
    ctx.store.markChanged();
    return { userId: claims.sub, jti: claims.jti, patId: pat.id };
  }
  return { userId: claims.sub, jti: claims.jti };
}

/** onRequest hook: only accepted devices with a live token pass. @internal */
export function requireDevice(ctx: SandboxContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const caller = await authenticateDevice(ctx, bearer(request));
    if (!caller) throw unauthorized('unauthorized');
    request.device = caller;
  };
}

/** onRequest hook: only the admin's JWTs and PATs pass. @internal */
export function requireUser(ctx: SandboxContext) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const caller = await authenticateUser(ctx, bearer(request));
    if (!caller) throw unauthorized('unauthorized');
    request.user = caller;
  };
}
