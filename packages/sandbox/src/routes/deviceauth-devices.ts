import type { FastifyInstance } from 'fastify';
import type { SandboxContext } from '../context.js';
import { nowIso } from '../context.js';
import { normaliseIdentity, parseDevicePublicKey, verifyDeviceSignature } from '../device-keys.js';
import { badRequest, unauthorized } from '../errors.js';
import {
  addAuthSet,
  canAcceptDevice,
  createDevice,
  findDeviceByIdentity,
  issueDeviceToken,
  setAuthSetStatus,
  syncInventoryIdentity,
} from '../fleet.js';
import { objectBody } from '../http.js';

/** deviceauth, device side: `POST /api/devices/v1/authentication/auth_requests`. @internal */
export async function deviceauthDeviceRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.post('/api/devices/v1/authentication/auth_requests', async (request, reply) => {
    const body = objectBody(request.body);
    if (typeof body.id_data !== 'string' || body.id_data === '') {
      throw badRequest('invalid auth request: id_data: cannot be blank.');
    }
    let identity: unknown;
    try {
      identity = JSON.parse(body.id_data);
    } catch {
      throw badRequest('invalid auth request: failed to decode identity data');
    }
    const identityKey = normaliseIdentity(identity);
    if (identityKey === undefined)
      throw badRequest('invalid auth request: identity data must be a JSON object');
    const key = parseDevicePublicKey(body.pubkey);
    if (typeof key === 'string') throw badRequest(`invalid auth request: ${key}`);
    const signature = request.headers['x-men-signature'];
    if (typeof signature !== 'string' || signature === '')
      throw badRequest('missing request signature header');
    if (!request.rawBody || !verifyDeviceSignature(request.rawBody, signature, key.key)) {
      throw unauthorized('signature verification failed');
    }

    let device = findDeviceByIdentity(ctx, identityKey);
    if (device?.decommissioning) throw unauthorized('dev auth: unauthorized');
    if (!device) device = createDevice(ctx, JSON.parse(identityKey) as Record<string, unknown>, identityKey);
    device.check_in_time = nowIso(ctx);
    const authSet = device.auth_sets.find((a) => a.pubkey === key.pem);
    if (!authSet) {
      addAuthSet(ctx, device, key.pem, 'pending');
      throw unauthorized('dev auth: unauthorized');
    }
    if (authSet.status === 'preauthorized') {
      if (!canAcceptDevice(ctx, device)) throw unauthorized('dev auth: unauthorized');
      setAuthSetStatus(ctx, device, authSet, 'accepted');
    }
    if (authSet.status !== 'accepted') {
      ctx.store.markChanged();
      throw unauthorized('dev auth: unauthorized');
    }
    syncInventoryIdentity(ctx, device);
    const token = await issueDeviceToken(ctx, device, authSet);
    return reply.code(200).type('application/jwt').send(token);
  });
}
