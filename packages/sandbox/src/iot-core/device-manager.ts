import type { FastifyRequest } from 'fastify';
import {
  DEVICE,
  GATEWAY_TYPE,
  MODIFY_CONFIG_REQUEST,
  type Parsed,
  readMessage,
  SEND_COMMAND_REQUEST,
} from './proto3-json.js';
import { RpcError } from './status.js';
import {
  DEVICE_ID,
  type DeviceRecord,
  parseCredentials,
  parseFieldMask,
  parseMetadata,
  type RegistryRecord,
  renderConfig,
  renderDevice,
} from './store.js';
import { first, int32Param, list, objectBody, type V1Query, type V1Target } from './v1-request.js';
import type { V1Schemas } from './v1-types.js';
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

/**
 * The device manager's calls on a registry's device collection: `GET …/devices` (a page of
 * devices, filtered) and `POST …/devices` (create one).
 * @internal
 */
export function registryDevicesCall(
  world: IotCoreWorld,
  request: FastifyRequest,
  reg: RegistryRecord,
  q: V1Query,
  numeric: boolean,
): unknown {
  if (request.method === 'GET') return listDevices(reg, q, numeric);
  if (request.method === 'POST') return createDevice(world, request, reg, numeric);
  throw new RpcError('NOT_FOUND', 'method not found');
}

/** `GET …/devices`: one page of the registry's devices, by ascending numeric id. */
function listDevices(reg: RegistryRecord, q: V1Query, numeric: boolean): unknown {
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

/** `POST …/devices`: a new device (its config version must be 0). */
function createDevice(
  world: IotCoreWorld,
  request: FastifyRequest,
  reg: RegistryRecord,
  numeric: boolean,
): unknown {
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

/**
 * The device manager's calls on one device: get, patch (by `updateMask`), delete, its config
 * (`:modifyCloudToDeviceConfig`, `configVersions`), `:sendCommandToDevice` and `states`.
 * @internal
 */
export function deviceCall(
  world: IotCoreWorld,
  request: FastifyRequest,
  t: V1Target,
  d: DeviceRecord,
  q: V1Query,
  numeric: boolean,
): unknown {
  const method = request.method;
  const reg = t.registry;
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
    return (
      states.length > 0 ? { deviceStates: states } : {}
    ) satisfies V1Schemas['ListDeviceStatesResponse'];
  }
  if (t.sub === 'configVersions' && method === 'GET' && t.verb === undefined) {
    const n = int32Param(q.numVersions, 'num_versions');
    const configs = d.configVersions.slice(0, n === 0 ? 10 : Math.min(n, 10)).map(renderConfig);
    return (
      configs.length > 0 ? { deviceConfigs: configs } : {}
    ) satisfies V1Schemas['ListDeviceConfigVersionsResponse'];
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
      if (method && method !== 'GATEWAY_AUTH_METHOD_UNSPECIFIED') d.gatewayConfig.gatewayAuthMethod = method;
      else delete d.gatewayConfig.gatewayAuthMethod;
    }
    world.deviceChanged(reg, d);
    return renderDevice(reg, d, undefined, [], numeric);
  }
  throw new RpcError('NOT_FOUND', 'method not found');
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
