import type { FastifyInstance } from 'fastify';
import { requireDevice } from '../auth.js';
import { nowIso, type SandboxContext } from '../context.js';
import { badRequest } from '../errors.js';
import { inventoryOf } from '../fleet.js';
import type { AttributeRecord } from '../state.js';

const MAX_ATTRIBUTES = 100;

function isAttributeValue(v: unknown): boolean {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return true;
  if (!Array.isArray(v)) return false;
  return v.every((x) => typeof x === 'string') || v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Validates a device attribute list; 400 on anything the real server refuses. @internal */
export function parseDeviceAttributes(
  body: unknown,
): { name: string; value: unknown; description?: string }[] {
  if (!Array.isArray(body))
    throw badRequest('failed to decode request body: expected an array of attributes');
  return body.map((a, i) => {
    if (typeof a !== 'object' || a === null) throw badRequest(`attribute ${i}: must be an object`);
    const { name, value, description } = a as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') throw badRequest('name: cannot be blank.');
    if (name.length > 1024) throw badRequest('name: the length must be no more than 1024.');
    if (!isAttributeValue(value)) {
      throw badRequest('value: supported types are string, number, and arrays of strings or numbers.');
    }
    if (description !== undefined && typeof description !== 'string')
      throw badRequest('description: must be a string.');
    return description === undefined ? { name, value } : { name, value, description };
  });
}

/** inventory, device side: `PUT|PATCH /api/devices/v1/inventory/device/attributes`. @internal */
export async function inventoryDeviceRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireDevice(ctx));
  const path = '/api/devices/v1/inventory/device/attributes';
  const update = (deviceId: string, body: unknown, replace: boolean): void => {
    const attrs = parseDeviceAttributes(body);
    const inv = inventoryOf(ctx, deviceId);
    const ts = nowIso(ctx);
    const next: Record<string, AttributeRecord> = {};
    for (const [k, v] of Object.entries(inv.attributes)) if (!replace || v.scope !== 'inventory') next[k] = v;
    for (const a of attrs) next[`inventory/${a.name}`] = { ...a, scope: 'inventory', timestamp: ts };
    if (Object.values(next).filter((a) => a.scope === 'inventory').length > MAX_ATTRIBUTES) {
      throw badRequest(`the number of inventory attributes exceeds the limit of ${MAX_ATTRIBUTES}`);
    }
    inv.attributes = next;
    inv.updated_ts = ts;
    inv.attributes['system/updated_ts'] = { name: 'updated_ts', scope: 'system', value: ts };
    ctx.store.markChanged();
  };
  app.put(path, async (request, reply) => {
    update(request.device!.deviceId, request.body, true);
    return reply.code(200).send();
  });
  app.patch(path, async (request, reply) => {
    update(request.device!.deviceId, request.body, false);
    return reply.code(200).send();
  });
}
