import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyDeviceJwt } from './keys.js';
import {
  DEVICE,
  GATEWAY_TYPE,
  MODIFY_CONFIG_REQUEST,
  type Parsed,
  readBytes,
  readMessage,
  SEND_COMMAND_REQUEST,
  wantsNumericEnums,
} from './proto3-json.js';
import { RpcError } from './status.js';
import {
  DEVICE_ID,
  type DeviceRecord,
  findDevice,
  parseCredentials,
  parseFieldMask,
  parseMetadata,
  type RegistryRecord,
  renderConfig,
  renderDevice,
  verifyCredentials,
} from './store.js';
import type { IotCoreWorld } from './world.js';

const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 100;
/** What `updateMask` may name: the mutable Device fields. */
const PATCHABLE = new Set([
  'credentials',
  'blocked',
  'metadata',
  'log_level',
  'gateway_config.gateway_auth_method',
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
  return readBytes(value, field);
}

/** A non-negative int32 query parameter (`pageSize`, `numStates`, `numVersions`); 0 when absent. */
function int32Param(value: unknown, name: string): number {
  const raw = first(value);
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!/^-?\d+$/.test(String(raw)) || !Number.isSafeInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid value at '${name}' (TYPE_INT32), ${JSON.stringify(raw)}`);
  }
  return n;
}

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
    const numeric = wantsNumericEnums(q.$alt);

    if (t.deviceSegment === undefined || t.deviceSegment === '') {
      if (method === 'GET') {
        const mask = parseFieldMask(first(q.fieldMask), 'field_mask');
        const rawSize = int32Param(q.pageSize, 'page_size');
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
        const numIds = list(q.deviceNumIds).map((n) => {
          if (!/^\d{1,20}$/.test(n)) {
            throw new RpcError('INVALID_ARGUMENT', `Invalid value at 'device_num_ids' (TYPE_UINT64), "${n}"`);
          }
          return BigInt(n).toString();
        });
        const gatewayType = gatewayTypeFilter(first(q['gatewayListOptions.gatewayType']));
        // Gateway bindings are not served: no device is bound to any gateway.
        const byAssociation =
          first(q['gatewayListOptions.associationsGatewayId']) !== undefined ||
          first(q['gatewayListOptions.associationsDeviceId']) !== undefined;
        const all = [...reg.devices.values()]
          .filter((d) => ids.length === 0 || ids.includes(d.id))
          .filter((d) => numIds.length === 0 || numIds.includes(d.numId))
          .filter((d) => gatewayType === undefined || d.gatewayConfig.gatewayType === gatewayType)
          .filter(() => !byAssociation)
          .sort((a, b) => (BigInt(a.numId) < BigInt(b.numId) ? -1 : 1));
        const page = all.slice(offset, offset + size);
        const next = offset + size < all.length;
        const out: Record<string, unknown> = {};
        if (page.length > 0) {
          out.devices = page.map((d) => renderDevice(reg, d, mask ?? new Set(), ['id', 'num_id'], numeric));
        }
        if (next) out.nextPageToken = Buffer.from(`offset:${offset + size}`).toString('base64url');
        return out;
      }
      if (method === 'POST') {
        const body = readMessage(objectBody(request.body), DEVICE, 'device');
        if (typeof body.id !== 'string' || !DEVICE_ID.test(body.id)) {
          throw new RpcError('INVALID_ARGUMENT', `Invalid device ID: '${String(body.id ?? '')}'.`);
        }
        if (reg.devices.has(body.id)) {
          const r = reg;
          throw new RpcError(
            'ALREADY_EXISTS',
            `The device with the name 'projects/${r.project}/locations/${r.location}/registries/${r.id}/devices/${body.id}' already exists.`,
          );
        }
        const config = (body.config ?? Object.create(null)) as Parsed;
        if (config.version !== undefined && config.version !== '0') {
          throw new RpcError('INVALID_ARGUMENT', 'The config version must be 0 at creation.');
        }
        const gateway = (body.gatewayConfig ?? Object.create(null)) as Parsed;
        const gatewayType =
          typeof gateway.gatewayType === 'string' && gateway.gatewayType !== 'GATEWAY_TYPE_UNSPECIFIED'
            ? gateway.gatewayType
            : 'NON_GATEWAY';
        const authMethod = gateway.gatewayAuthMethod as string | undefined;
        const d = world.createDevice(reg, {
          id: body.id,
          credentials: parseCredentials(body.credentials),
          blocked: body.blocked === true,
          metadata: parseMetadata(body.metadata),
          logLevel: body.logLevel as string | undefined,
          gatewayConfig: {
            gatewayType,
            ...(authMethod && authMethod !== 'GATEWAY_AUTH_METHOD_UNSPECIFIED'
              ? { gatewayAuthMethod: authMethod }
              : {}),
          },
          configData: ((config.binaryData as Buffer | undefined) ?? Buffer.alloc(0)).toString('base64'),
        });
        return renderDevice(reg, d, undefined, [], numeric);
      }
      throw new RpcError('NOT_FOUND', 'method not found');
    }

    const d = device(t);
    if (t.verb === 'modifyCloudToDeviceConfig' && method === 'POST') {
      const body = readMessage(objectBody(request.body), MODIFY_CONFIG_REQUEST, '');
      const want = Number(body.versionToUpdate ?? 0);
      if (want !== 0 && want !== d.config.version) {
        throw new RpcError(
          'FAILED_PRECONDITION',
          `The config version to update (${want}) does not match the current version (${d.config.version}).`,
        );
      }
      const data = (body.binaryData as Buffer | undefined) ?? Buffer.alloc(0);
      if (data.length > 64 * 1024) throw new RpcError('INVALID_ARGUMENT', 'Config payload over 64 KB.');
      return renderConfig(world.modifyConfig(reg, d, data));
    }
    if (t.verb === 'sendCommandToDevice' && method === 'POST') {
      const body = readMessage(objectBody(request.body), SEND_COMMAND_REQUEST, '');
      const data = (body.binaryData as Buffer | undefined) ?? Buffer.alloc(0);
      const sub = body.subfolder as string | undefined;
      if (sub !== undefined && (sub.length > 256 || /[+#]/.test(sub))) {
        throw new RpcError('INVALID_ARGUMENT', 'Invalid subfolder.');
      }
      if (!world.sendCommand(reg, d, data, sub !== undefined && sub !== '' ? sub : undefined)) {
        throw new RpcError('FAILED_PRECONDITION', `Device \`${d.numId}\` is not connected.`);
      }
      return {};
    }
    if (t.sub === 'states' && method === 'GET' && t.verb === undefined) {
      const n = int32Param(q.numStates, 'num_states');
      const states = d.states.slice(0, n === 0 ? 10 : Math.min(n, 10));
      return states.length > 0 ? { deviceStates: states } : {};
    }
    if (t.sub === 'configVersions' && method === 'GET' && t.verb === undefined) {
      const n = int32Param(q.numVersions, 'num_versions');
      const configs = d.configVersions.slice(0, n === 0 ? 10 : Math.min(n, 10)).map(renderConfig);
      return configs.length > 0 ? { deviceConfigs: configs } : {};
    }
    if (t.verb !== undefined || t.sub !== undefined) throw new RpcError('NOT_FOUND', 'method not found');
    if (method === 'GET') {
      return renderDevice(reg, d, parseFieldMask(first(q.fieldMask), 'field_mask'), [], numeric);
    }
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
      const body = readMessage(objectBody(request.body), DEVICE, 'device');
      // Validate every masked field before changing any, so a refused patch changes nothing.
      const credentials = fields.includes('credentials') ? parseCredentials(body.credentials) : undefined;
      const metadata = fields.includes('metadata') ? parseMetadata(body.metadata) : undefined;
      if (credentials) d.credentials = credentials;
      if (metadata) d.metadata = metadata;
      if (fields.includes('blocked')) d.blocked = body.blocked === true;
      if (fields.includes('log_level')) {
        const level = body.logLevel as string | undefined;
        if (level && level !== 'LOG_LEVEL_UNSPECIFIED') d.logLevel = level;
        else delete d.logLevel;
      }
      if (fields.includes('gateway_config.gateway_auth_method')) {
        const method = ((body.gatewayConfig ?? {}) as Parsed).gatewayAuthMethod as string | undefined;
        if (method && method !== 'GATEWAY_AUTH_METHOD_UNSPECIFIED')
          d.gatewayConfig.gatewayAuthMethod = method;
        else delete d.gatewayConfig.gatewayAuthMethod;
      }
      world.deviceChanged(reg, d);
      return renderDevice(reg, d, undefined, [], numeric);
    }
    throw new RpcError('NOT_FOUND', 'method not found');
  };
}

/** `gatewayListOptions.gatewayType` as an enum name (name or number accepted). */
function gatewayTypeFilter(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value);
  const name = /^\d+$/.test(text) ? GATEWAY_TYPE[Number(text)] : text;
  if (name === undefined || !Object.values(GATEWAY_TYPE).includes(name)) {
    throw new RpcError(
      'INVALID_ARGUMENT',
      `Invalid value at 'gateway_list_options.gateway_type' (TYPE_ENUM), "${text}"`,
    );
  }
  return name === 'GATEWAY_TYPE_UNSPECIFIED' ? undefined : name;
}
