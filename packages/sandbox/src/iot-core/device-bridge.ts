import type { FastifyRequest } from 'fastify';
import { RpcError } from './status.js';
import type { DeviceRecord } from './store.js';
import { decodeBytes, first, objectBody, type V1Query, type V1Target } from './v1-request.js';
import type { IotCoreWorld } from './world.js';

/** Payload limits of the device bridge, as Cloud IoT Core had them. */
const MAX_TELEMETRY_BYTES = 256 * 1024;
const MAX_STATE_BYTES = 64 * 1024;

/** Whether a `/v1/...` request is for the device HTTP bridge (authenticated by the device's JWT). */
export function isDeviceBridgeCall(t: V1Target, method: string): boolean {
  return t.verb === 'publishEvent' || t.verb === 'setState' || (t.sub === 'config' && method === 'GET');
}

/**
 * The device HTTP bridge: `:publishEvent`, `:setState` and `GET …/config` for a device that
 * authenticated with its JWT.
 * @internal
 */
export async function deviceBridgeCall(
  world: IotCoreWorld,
  request: FastifyRequest,
  t: V1Target,
  d: DeviceRecord,
  q: V1Query,
): Promise<unknown> {
  const method = request.method;
  const reg = t.registry;
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
    if (data.length > MAX_TELEMETRY_BYTES)
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
  if (data.length > MAX_STATE_BYTES) throw new RpcError('INVALID_ARGUMENT', 'State payload over 64 KB.');
  await world.recordState(reg, d, data, 'http');
  return {};
}
