import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deviceBridgeCall, isDeviceBridgeCall } from './device-bridge.js';
import { deviceCall, registryDevicesCall } from './device-manager.js';
import { verifyDeviceJwt } from './keys.js';
import { wantsNumericEnums } from './proto3-json.js';
import { RpcError } from './status.js';
import { type DeviceRecord, findDevice, verifyCredentials } from './store.js';
import type { V1Query, V1Target } from './v1-request.js';
import type { IotCoreWorld } from './world.js';

/**
 * Registers `/v1/*` in its own scope, whose JSON parser takes an empty body as no body: Google's
 * REST clients send `Content-Type: application/json` on bodiless DELETEs.
 * @internal
 */
export async function registerV1Routes(app: FastifyInstance, world: IotCoreWorld): Promise<void> {
  const handler = createV1Handler(world);
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
      const body = String(text);
      if (body.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(body));
      } catch {
        done(new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received.'), undefined);
      }
    });
    scope.route({ method: ['GET', 'POST', 'PATCH', 'DELETE'], url: '/v1/*', handler });
  });
}

/** Handles every `/v1/...` request: the device manager subset and the device HTTP bridge. @internal */
export function createV1Handler(world: IotCoreWorld) {
  const resolve = (path: string): V1Target => {
    const segs = path.split('/').map((s) => decodeURIComponent(s));
    // projects/{p}/locations/{l}/registries/{r}/devices[/{d}[:verb]][/sub]
    if (segs[0] !== 'projects' || segs[2] !== 'locations' || segs[4] !== 'registries') {
      throw new RpcError('NOT_FOUND', `The requested URL /v1/${path} was not found on this server.`);
    }
    const [, project = '', , location = '', , regId = ''] = segs;
    let rest = segs.slice(6);
    let verb: string | undefined;
    // `registries/{r}` alone is not served
    if (rest[0] !== 'devices') {
      throw new RpcError('NOT_FOUND', `The requested URL /v1/${path} was not found on this server.`);
    }
    rest = rest.slice(1);
    let deviceSegment = rest[0];
    if (deviceSegment !== undefined) {
      const colon = deviceSegment.indexOf(':');
      if (colon >= 0) {
        verb = deviceSegment.slice(colon + 1);
        deviceSegment = deviceSegment.slice(0, colon);
      }
    }
    const registry = world.registry(project, location, regId);
    if (!registry) {
      throw new RpcError(
        'NOT_FOUND',
        `The registry with the name 'projects/${project}/locations/${location}/registries/${regId}' does not exist.`,
      );
    }
    if (rest.length > 2 || (rest.length === 2 && verb !== undefined)) {
      throw new RpcError('NOT_FOUND', `The requested URL /v1/${path} was not found on this server.`);
    }
    return { registry, deviceSegment, verb, sub: rest[1] };
  };

  const device = (t: V1Target): DeviceRecord => {
    const d = t.deviceSegment === undefined ? undefined : findDevice(t.registry, t.deviceSegment);
    if (!d) {
      const r = t.registry;
      throw new RpcError(
        'NOT_FOUND',
        `The device with the name 'projects/${r.project}/locations/${r.location}/registries/${r.id}/devices/${t.deviceSegment}' does not exist.`,
      );
    }
    return d;
  };

  const requireAdmin = (request: FastifyRequest) => {
    if (world.adminToken === undefined) return;
    const auth = request.headers.authorization;
    if (auth === undefined) {
      throw new RpcError(
        'UNAUTHENTICATED',
        'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    if (auth !== `Bearer ${world.adminToken}`) {
      throw new RpcError('UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    }
  };

  const requireDevice = async (request: FastifyRequest, t: V1Target): Promise<DeviceRecord> => {
    const d = device(t);
    const auth = request.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    if (!token) throw new RpcError('UNAUTHENTICATED', 'Missing device JWT in the authorization header.');
    const result = await verifyDeviceJwt(
      token,
      verifyCredentials(d),
      t.registry.project,
      world.now().getTime(),
    );
    if (!result.ok) throw new RpcError('UNAUTHENTICATED', result.reason);
    if (d.blocked) throw new RpcError('PERMISSION_DENIED', 'The device is blocked.');
    return d;
  };

  return async (request: FastifyRequest, _reply: FastifyReply): Promise<unknown> => {
    const pathOnly = request.url.split('?')[0] ?? '';
    const t = resolve(pathOnly.replace(/^\/v1\//, ''));
    const q = (request.query ?? {}) as V1Query;
    if (isDeviceBridgeCall(t, request.method)) {
      return deviceBridgeCall(world, request, t, await requireDevice(request, t), q);
    }
    requireAdmin(request);
    const numeric = wantsNumericEnums(q.$alt);
    if (t.deviceSegment === undefined || t.deviceSegment === '') {
      return registryDevicesCall(world, request, t.registry, q, numeric);
    }
    return deviceCall(world, request, t, device(t), q, numeric);
  };
}
