/** The identity attribute that names a Mender device's device in the IoT Core registry. */
export const TELEMETRY_ID_ATTRIBUTE = 'device_id';

/**
 * The id a device's telemetry carries, for a Mender device: its identity's `device_id`, which is
 * the device's id in the IoT Core registry (what `preauthorizeFromRegistry` and `otakit iot sync`
 * give a registry device, and the `device_id` the telemetry store records); else, for a device
 * with no such identity attribute, the Mender device id itself. The one place both planes' ids
 * are joined: the management client's rollouts, the CLI and the fleet page all use it.
 *
 * @example
 * ```ts
 * telemetryDeviceId({ id: '5f0c…', identity_data: { device_id: 'g-42' } }) // 'g-42'
 * telemetryDeviceId({ id: '5f0c…', identity_data: { mac: '00:11:22' } }) // '5f0c…'
 * ```
 */
export function telemetryDeviceId(device: { id?: string; identity_data?: unknown }): string {
  const identity = device.identity_data as Record<string, unknown> | null | undefined;
  // Own property only: an identity parsed from hostile JSON may carry a `__proto__`.
  const registryId =
    identity != null && Object.hasOwn(identity, TELEMETRY_ID_ATTRIBUTE)
      ? identity[TELEMETRY_ID_ATTRIBUTE]
      : undefined;
  return typeof registryId === 'string' && registryId !== '' ? registryId : (device.id ?? '');
}
