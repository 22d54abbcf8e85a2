import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireUser } from '../auth.js';
import type { SandboxContext } from '../context.js';
import { normaliseIdentity, parseDevicePublicKey } from '../device-keys.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import {
  addAuthSet,
  canAcceptDevice,
  createDevice,
  deviceStatus,
  findDeviceByIdentity,
  removeDevice,
  renderDevice,
  revokeDeviceTokens,
  setAuthSetStatus,
  syncInventoryIdentity,
} from '../fleet.js';
import { objectBody, paginate } from '../http.js';
import type { AuthSetStatus, DeviceRecord } from '../state.js';

const DEVICE_STATUSES = ['pending', 'accepted', 'rejected', 'preauthorized', 'noauth'];

/** deviceauth management v2: `/api/management/v2/devauth/...`. @internal */
export async function deviceauthManagementRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  const prefix = '/api/management/v2/devauth';
  app.addHook('onRequest', requireUser(ctx));

  const devicesSorted = (): DeviceRecord[] =>
    Object.values(ctx.store.state.devices).sort((a, b) =>
      a.created_ts < b.created_ts ? -1 : a.created_ts > b.created_ts ? 1 : 0,
    );
  const getDevice = (id: string): DeviceRecord => {
    const device = ctx.store.state.devices[id];
    if (!device) throw notFound('device not found');
    return device;
  };
  const asList = (v: unknown): string[] =>
    v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];

  const list = (request: FastifyRequest, reply: FastifyReply, statuses: string[], ids: string[]) => {
    for (const s of statuses) if (!DEVICE_STATUSES.includes(s)) throw badRequest(`invalid status: ${s}`);
    const devices = devicesSorted().filter(
      (d) =>
        (statuses.length === 0 || statuses.includes(deviceStatus(d))) &&
        (ids.length === 0 || ids.includes(d.id)),
    );
    return paginate(request, reply, devices, { totalCount: false }).map(renderDevice);
  };

  app.get<{ Querystring: Record<string, unknown> }>(`${prefix}/devices`, async (request, reply) =>
    list(request, reply, asList(request.query.status), asList(request.query.id)),
  );

  // Search takes JSON or a form (`status=...&id=...`), so it gets a form parser of its own.
  app.register(async (search) => {
    search.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_req, body, done) => {
        const out = Object.create(null) as Record<string, string[]>;
        for (const [k, v] of new URLSearchParams(body as string)) {
          const values = out[k] ?? [];
          values.push(v);
          out[k] = values;
        }
        done(null, out);
      },
    );
    search.post(`${prefix}/devices/search`, async (request, reply) => {
      const body = request.body === undefined ? {} : objectBody(request.body);
      return list(request, reply, asList(body.status), asList(body.id));
    });
  });

  app.get<{ Querystring: Record<string, unknown> }>(`${prefix}/devices/count`, async (request) => {
    const status = request.query.status;
    if (status !== undefined && !DEVICE_STATUSES.includes(String(status)))
      throw badRequest(`invalid status: ${String(status)}`);
    const count = devicesSorted().filter((d) => status === undefined || deviceStatus(d) === status).length;
    return { count };
  });

  app.post(`${prefix}/devices`, async (request, reply) => {
    const body = objectBody(request.body);
    const identityKey = normaliseIdentity(body.identity_data);
    if (identityKey === undefined) throw badRequest('identity_data: cannot be blank.');
    const key = parseDevicePublicKey(body.pubkey);
    if (typeof key === 'string') throw badRequest(key);
    if (body.force !== undefined && typeof body.force !== 'boolean')
      throw badRequest('force: must be a boolean');
    let device = findDeviceByIdentity(ctx, identityKey);
    if (device && body.force !== true) {
      throw new HttpError(409, 'device already exists', { body: renderDevice(device) });
    }
    if (!device) device = createDevice(ctx, JSON.parse(identityKey) as Record<string, unknown>, identityKey);
    const existing = device.auth_sets.find((a) => a.pubkey === key.pem);
    if (existing) setAuthSetStatus(ctx, device, existing, 'preauthorized');
    else addAuthSet(ctx, device, key.pem, 'preauthorized');
    ctx.store.markChanged();
    return reply.code(201).header('Location', `devices/${device.id}`).send();
  });

  app.get<{ Params: { id: string } }>(`${prefix}/devices/:id`, async (request) =>
    renderDevice(getDevice(request.params.id)),
  );

  app.delete<{ Params: { id: string } }>(`${prefix}/devices/:id`, async (request, reply) => {
    getDevice(request.params.id);
    removeDevice(ctx, request.params.id);
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string; aid: string } }>(
    `${prefix}/devices/:id/auth/:aid`,
    async (request, reply) => {
      const device = getDevice(request.params.id);
      const authSet = device.auth_sets.find((a) => a.id === request.params.aid);
      if (!authSet) throw notFound('authorization set not found');
      if (authSet.status === 'accepted') revokeDeviceTokens(ctx, device.id);
      device.auth_sets = device.auth_sets.filter((a) => a !== authSet);
      ctx.store.updateDeviceStatus(device);
      if (device.auth_sets.length === 0 && authSet.status === 'preauthorized') {
        removeDevice(ctx, device.id);
      } else {
        syncInventoryIdentity(ctx, device);
      }
      ctx.store.markChanged();
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { id: string; aid: string } }>(
    `${prefix}/devices/:id/auth/:aid/status`,
    async (request) => {
      const authSet = getDevice(request.params.id).auth_sets.find((a) => a.id === request.params.aid);
      if (!authSet) throw notFound('authorization set not found');
      return { status: authSet.status };
    },
  );

  app.put<{ Params: { id: string; aid: string } }>(
    `${prefix}/devices/:id/auth/:aid/status`,
    async (request, reply) => {
      const body = objectBody(request.body);
      const status = body.status;
      if (status !== 'accepted' && status !== 'rejected' && status !== 'pending') {
        throw badRequest('status: must be one of accepted, rejected, pending');
      }
      const device = getDevice(request.params.id);
      const authSet = device.auth_sets.find((a) => a.id === request.params.aid);
      if (!authSet) throw notFound('authorization set not found');
      if (authSet.status !== status) {
        const from: AuthSetStatus = authSet.status;
        const allowed =
          (status === 'accepted' && (from === 'pending' || from === 'rejected')) ||
          (status === 'rejected' && (from === 'pending' || from === 'accepted')) ||
          (status === 'pending' && from !== 'preauthorized');
        if (!allowed) throw badRequest(`invalid status transition from ${from} to ${status}`);
        if (status === 'accepted' && !canAcceptDevice(ctx, device)) {
          throw new HttpError(422, 'maximum number of accepted devices reached');
        }
        setAuthSetStatus(ctx, device, authSet, status);
      }
      ctx.store.markChanged();
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { id: string } }>(`${prefix}/tokens/:id`, async (request, reply) => {
    if (!ctx.store.deleteDeviceToken(request.params.id)) throw notFound('token not found');
    return reply.code(204).send();
  });

  app.get(`${prefix}/limits/max_devices`, async () => ({ limit: ctx.maxDevices }));
}
