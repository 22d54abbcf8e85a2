/**
 * IoT Core names: the MQTT client id (the device path) and the device topics.
 *
 * @module
 */

/** Where a device lives. */
export interface DeviceAddress {
  project: string;
  location: string;
  registry: string;
  deviceId: string;
}

/** `projects/{p}/locations/{l}/registries/{r}/devices/{d}`: the MQTT client id and the HTTP bridge path. */
export function devicePath(a: DeviceAddress): string {
  return `projects/${a.project}/locations/${a.location}/registries/${a.registry}/devices/${a.deviceId}`;
}

/** The MQTT topics of a device. */
export const topics = {
  /** Telemetry: `/devices/{id}/events`, or `/devices/{id}/events/{subfolder}`. */
  events: (deviceId: string, subfolder?: string): string =>
    subfolder ? `/devices/${deviceId}/events/${subfolder}` : `/devices/${deviceId}/events`,
  /** Device state: `/devices/{id}/state`. */
  state: (deviceId: string): string => `/devices/${deviceId}/state`,
  /** Configuration from the cloud: `/devices/{id}/config`. */
  config: (deviceId: string): string => `/devices/${deviceId}/config`,
  /** Commands (subscribe only to the wildcard): `/devices/{id}/commands/#`. */
  commands: (deviceId: string): string => `/devices/${deviceId}/commands/#`,
} as const;

/** Checks a telemetry subfolder: non-empty path segments, no `+` or `#`, at most 256 characters. */
export function isValidSubfolder(subfolder: string): boolean {
  return (
    subfolder.length > 0 &&
    subfolder.length <= 256 &&
    !/[+#]/.test(subfolder) &&
    subfolder.split('/').every((s) => s.length > 0)
  );
}
