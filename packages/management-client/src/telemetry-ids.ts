import { mapConcurrent, type RequestOptions, telemetryDeviceId } from '@otakit/core';
import type { Device } from './types.js';

export { TELEMETRY_ID_ATTRIBUTE, telemetryDeviceId } from '@otakit/core';

/** What {@link telemetryDeviceIds} reads devices from: `mgmt.devices`. */
export interface DeviceLookup {
  get(deviceId: string, opts?: RequestOptions): Promise<Pick<Device, 'id' | 'identity_data'>>;
}

/** Options of {@link telemetryDeviceIds}. */
export interface TelemetryDeviceIdsOptions {
  /** How many devices are read at once. Default 8. */
  concurrency?: number;
  /** Forwarded to every `devices.get`. */
  requestOptions?: RequestOptions;
}

/**
 * Maps Mender device ids to the ids their telemetry carries ({@link telemetryDeviceId}), reading
 * each device once (at most `concurrency` at a time) and remembering the answer: the
 * `deviceIdsOf` a release health source needs to query telemetry for a rollout's devices. The
 * result keeps the order of the ids given. A device that cannot be read rejects the call.
 *
 * @example
 * ```ts
 * const health = releaseHealthSource(telemetry, { deviceIdsOf: telemetryDeviceIds(mgmt.devices) })
 * ```
 */
export function telemetryDeviceIds(
  devices: DeviceLookup,
  options: TelemetryDeviceIdsOptions = {},
): (menderIds: readonly string[]) => Promise<string[]> {
  const known = new Map<string, string>();
  return async (menderIds) => {
    const unknown = [...new Set(menderIds.filter((id) => !known.has(id)))];
    const read = await mapConcurrent(
      unknown,
      async (id) => telemetryDeviceId({ ...(await devices.get(id, options.requestOptions)), id }),
      {
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
        ...(options.requestOptions?.signal === undefined ? {} : { signal: options.requestOptions.signal }),
      },
    );
    for (const result of read) {
      if (!result.ok) throw result.error;
      known.set(result.item, result.value);
    }
    return menderIds.map((id) => known.get(id) as string);
  };
}
