import type { FastifyReply, FastifyRequest } from 'fastify';
import { verifyDeviceJwt } from './keys.js';
import { RpcError } from './status.js';
import {
  DEVICE_ID,
  type DeviceRecord,
  findDevice,
  parseCredentials,
  parseFieldMask,
  parseMetadata,
  type RegistryRecord,
  renderDevice,
  verifyCredentials,
} from './store.js';
import type { IotCoreWorld } from './world.js';

const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 100;
const PATCHABLE = new Set(['credentials', 'blocked', 'metadata', 'log_level']);
const LOG_LEVELS = ['LOG_LEVEL_UNSPECIFIED', 'NONE', 'ERROR', 'INFO', 'DEBUG'];
const DEVICE_FIELDS_ACCEPTED = new Set([
  'id',
  'name',
  'numId',
  'credentials',
  'blocked',
  'metadata',
  'logLevel',
  'config',
  'gatewayConfig',
]);

/** A parsed `/v1/...` device path. */
interface Target {
  registry: RegistryRecord;
  deviceSegment: string | undefined;
  verb: string | undefined;
  sub: string | undefined;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received.');
  }
  return body as Record<string, unknown>;
}

function decodeBytes(value: unknown, field: string): Buffer {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid value at '${field}' (TYPE_BYTES), Base64 decoding failed`,
    );
  }
  return Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).filter(Boolean);
}

/** Handles every `/v1/...` request: the device manager subset and the device HTTP bridge. @internal */
export function createV1Handler(world: IotCoreWorld) {
  const resolve = (path: string): Target => {
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

  const device = (t: Target): DeviceRecord => {
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

  const requireDevice = async (request: FastifyRequest, t: Target): Promise<DeviceRecord> => {
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
    const url = request.url;
    const pathOnly = url.split('?')[0] ?? '';
    const t = resolve(pathOnly.replace(/^\/v1\//, ''));
    const q = (request.query ?? {}) as Record<string, unknown>;
    const method = request.method;
    const reg = t.registry;

    // Device HTTP bridge.
    if (t.verb === 'publishEvent' || t.verb === 'setState' || (t.sub === 'config' && method === 'GET')) {
      const d = await requireDevice(request, t);
      if (t.sub === 'config') {
        const local = Number(first(q.local_version ?? q.localVersion) ?? 0);
        if (!Number.isInteger(local) || local < 0 || local > d.config.version) {
          throw new RpcError('INVALID_ARGUMENT', 'local_version is newer than the current config version');
        }
        if (local !== 0 && local >= d.config.version) return { version: String(d.config.version) };
        return { version: String(d.config.version), binaryData: d.config.binaryData };
      }
      if (method !== 'POST') throw new RpcError('NOT_FOUND', 'method not found');
      const body = objectBody(request.body);
      if (t.verb === 'publishEvent') {
        const data = decodeBytes(body.binaryData ?? body.binary_data, 'binary_data');
        if (data.length > 256 * 1024)
          throw new RpcError('INVALID_ARGUMENT', 'Telemetry payload over 256 KB.');
        const sub = body.subFolder ?? body.sub_folder;
        if (sub !== undefined && typeof sub !== 'string') {
          throw new RpcError('INVALID_ARGUMENT', "Invalid value at 'sub_folder'");
        }
        await world.recordTelemetry(reg, d, data, sub === '' ? undefined : sub, 'http');
        return {};
      }
      const state = objectBody(body.state);
      const data = decodeBytes(state.binaryData ?? state.binary_data, 'state.binary_data');
      if (data.length > 64 * 1024) throw new RpcError('INVALID_ARGUMENT', 'State payload over 64 KB.');
      await world.recordState(reg, d, data, 'http');
      return {};
    }

    requireAdmin(request);

    if (t.deviceSegment === undefined || t.deviceSegment === '') {
      if (method === 'GET') {
        const mask = parseFieldMask(first(q.fieldMask), 'field_mask');
        const rawSize = Number(first(q.pageSize) ?? 0);
        if (!Number.isInteger(rawSize) || rawSize < 0) {
          throw new RpcError('INVALID_ARGUMENT', "Invalid value at 'page_size' (TYPE_INT32)");
        }
        const size = Math.min(rawSize === 0 ? DEFAULT_PAGE_SIZE : rawSize, MAX_PAGE_SIZE);
        const token = first(q.pageToken);
        let offset = 0;
        if (token !== undefined && token !== '') {
          const decoded = /^[A-Za-z0-9_-]+$/.test(String(token))
            ? Buffer.from(String(token), 'base64url').toString('utf8')
            : '';
          const m = /^offset:(\d+)$/.exec(decoded);
          if (!m) throw new RpcError('INVALID_ARGUMENT', 'The page token is invalid.');
          offset = Number(m[1]);
        }
        const ids = list(q.deviceIds);
        const numIds = list(q.deviceNumIds);
        const all = [...reg.devices.values()]
          .filter((d) => ids.length === 0 || ids.includes(d.id))
          .filter((d) => numIds.length === 0 || numIds.includes(d.numId))
          .sort((a, b) => (BigInt(a.numId) < BigInt(b.numId) ? -1 : 1));
        const page = all.slice(offset, offset + size);
        const next = offset + size < all.length;
        const out: Record<string, unknown> = {
          devices: page.map((d) => renderDevice(reg, d, mask ?? new Set(), ['id', 'num_id'])),
        };
        if (next) out.nextPageToken = Buffer.from(`offset:${offset + size}`).toString('base64url');
        return out;
      }
      if (method === 'POST') {
        const body = objectBody(request.body);
        for (const k of Object.keys(body)) {
          if (!DEVICE_FIELDS_ACCEPTED.has(k)) {
            throw new RpcError(
              'INVALID_ARGUMENT',
              `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`,
            );
          }
        }
        if (typeof body.id !== 'string' || !DEVICE_ID.test(body.id)) {
          throw new RpcError('INVALID_ARGUMENT', `Invalid device ID: '${String(body.id)}'.`);
        }
        if (reg.devices.has(body.id)) {
          const r = reg;
          throw new RpcError(
            'ALREADY_EXISTS',
            `The device with the name 'projects/${r.project}/locations/${r.location}/registries/${r.id}/devices/${body.id}' already exists.`,
          );
        }
        const d = world.createDevice(reg, {
          id: body.id,
          credentials: parseCredentials(body.credentials),
          blocked: body.blocked === true,
          metadata: parseMetadata(body.metadata),
          logLevel: parseLogLevel(body.logLevel),
          configData: (() => {
            const c = body.config === undefined ? {} : objectBody(body.config);
            if (c.version !== undefined && String(c.version) !== '0') {
              throw new RpcError('INVALID_ARGUMENT', 'The config version must be 0 at creation.');
            }
            return decodeBytes(c.binaryData, 'device.config.binary_data').toString('base64');
          })(),
        });
        return renderDevice(reg, d, undefined);
      }
      throw new RpcError('NOT_FOUND', 'method not found');
    }

    const d = device(t);
    if (t.verb === 'modifyCloudToDeviceConfig' && method === 'POST') {
      const body = objectBody(request.body);
      const want = Number(body.versionToUpdate ?? 0);
      if (want !== 0 && want !== d.config.version) {
        throw new RpcError('FAILED_PRECONDITION', 'The config version to update does not match.');
      }
      const data = decodeBytes(body.binaryData, 'binary_data');
      if (data.length > 64 * 1024) throw new RpcError('INVALID_ARGUMENT', 'Config payload over 64 KB.');
      const config = world.modifyConfig(reg, d, data);
      return {
        version: String(config.version),
        cloudUpdateTime: config.cloudUpdateTime,
        binaryData: config.binaryData,
      };
    }
    if (t.verb === 'sendCommandToDevice' && method === 'POST') {
      const body = objectBody(request.body);
      const data = decodeBytes(body.binaryData, 'binary_data');
      const sub = body.subfolder;
      if (sub !== undefined && (typeof sub !== 'string' || sub.length > 256 || /[+#]/.test(sub))) {
        throw new RpcError('INVALID_ARGUMENT', 'Invalid subfolder.');
      }
      if (!world.sendCommand(reg, d, data, typeof sub === 'string' && sub !== '' ? sub : undefined)) {
        throw new RpcError('FAILED_PRECONDITION', `Device \`${d.numId}\` is not connected.`);
      }
      return {};
    }
    if (t.sub === 'states' && method === 'GET') {
      const n = Number(first(q.numStates) ?? 0) || 10;
      return { deviceStates: d.states.slice(0, Math.min(n, 10)) };
    }
    if (t.verb !== undefined || t.sub !== undefined) throw new RpcError('NOT_FOUND', 'method not found');
    if (method === 'GET') return renderDevice(reg, d, parseFieldMask(first(q.fieldMask), 'field_mask'));
    if (method === 'DELETE') {
      world.deleteDevice(reg, d);
      return {};
    }
    if (method === 'PATCH') {
      const rawMask = first(q.updateMask);
      const fields =
        rawMask === undefined
          ? []
          : String(rawMask)
              .split(',')
              .map((f) => f.trim())
              .filter(Boolean);
      if (fields.length === 0) throw new RpcError('INVALID_ARGUMENT', 'The update_mask must not be empty.');
      for (const f of fields) {
        if (!PATCHABLE.has(f)) {
          throw new RpcError('INVALID_ARGUMENT', `The field '${f}' cannot be updated with update_mask.`);
        }
      }
      const body = objectBody(request.body);
      if (fields.includes('credentials')) d.credentials = parseCredentials(body.credentials);
      if (fields.includes('blocked')) d.blocked = body.blocked === true;
      if (fields.includes('metadata')) d.metadata = parseMetadata(body.metadata);
      if (fields.includes('log_level')) d.logLevel = parseLogLevel(body.logLevel);
      world.deviceChanged(reg, d);
      return renderDevice(reg, d, undefined);
    }
    throw new RpcError('NOT_FOUND', 'method not found');
  };
}

function parseLogLevel(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !LOG_LEVELS.includes(value)) {
    throw new RpcError('INVALID_ARGUMENT', "Invalid value at 'device.log_level'");
  }
  return value;
}
