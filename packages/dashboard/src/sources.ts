/**
 * What the dashboard needs from each plane, declared structurally: a `ManagementClient` from
 * `@otakit/management-client`, a `TelemetryStore` or `TelemetryHttpClient` from `@otakit/telemetry`
 * and a `RegistryClient` from `@otakit/iot-core-adapter` fit these shapes as they are. The dashboard
 * imports none of those packages, so it runs against a real Mender server, a real telemetry store
 * and any Cloud IoT Core-compatible registry alike.
 */

/** Something to `for await` over (a management-client or registry page promise is one). */
export type Paged<T> = AsyncIterable<T>;

/** A Mender device as deviceauth lists it (the fields the page reads). */
export interface MenderDevice {
  id?: string;
  identity_data?: Record<string, unknown>;
  status?: string;
  created_ts?: string;
  updated_ts?: string;
  check_in_time?: string;
}

/** One inventory attribute. */
export interface MenderAttribute {
  name: string;
  value: unknown;
  scope?: string;
}

/** A device's inventory. */
export interface MenderInventoryDevice {
  id?: string;
  attributes?: MenderAttribute[];
  updated_ts?: string;
}

/** A deployment as Mender lists it. */
export interface MenderDeployment {
  id?: string;
  name?: string;
  artifact_name?: string;
  status?: string;
  created?: string;
  finished?: string;
  device_count?: number;
}

/** A device of a deployment with its state in it. */
export interface MenderDeploymentDevice {
  id?: string;
  status?: string;
  created?: string;
  started?: string;
  finished?: string;
}

/** The Mender management API, as the dashboard reads it (a `ManagementClient` fits). */
export interface ManagementSource {
  devices: { list(opts?: { perPage?: number }): Paged<MenderDevice> };
  inventory: { list(opts?: { perPage?: number }): Paged<MenderInventoryDevice> };
  deployments: {
    list(opts?: { perPage?: number }): Paged<MenderDeployment>;
    // biome-ignore lint/suspicious/noExplicitAny: Mender's statistics object is a map of state to count.
    statistics(deploymentId: string): Promise<any>;
    devices(deploymentId: string, opts?: { perPage?: number }): Paged<MenderDeploymentDevice>;
  };
}

/** A stored telemetry message (the fields the page reads; `TelemetryRecord` fits). */
export interface TelemetryRow {
  deviceId: string;
  receivedAt: string;
  kind: string;
  artifactName: string | null;
  deploymentId: string | null;
  metrics: Record<string, number>;
}

/** A time window and device set of a telemetry query. */
export interface TelemetryQuery {
  deviceIds?: readonly string[];
  from?: Date | string | number;
  to?: Date | string | number;
  limit?: number;
}

/** The telemetry store, as the dashboard reads it (a `TelemetryStore` or `TelemetryHttpClient` fits). */
export interface TelemetrySource {
  /** The newest message of each device. */
  latest(query?: TelemetryQuery): Promise<TelemetryRow[]>;
  /** The newest messages, newest first. */
  messages(query?: TelemetryQuery): Promise<TelemetryRow[]>;
}

/** An IoT Core device (the fields the page reads). */
export interface RegistryDevice {
  id?: string | null;
  blocked?: boolean | null;
  lastEventTime?: string | null;
  lastHeartbeatTime?: string | null;
  lastStateTime?: string | null;
}

/** The IoT Core registry (an `@otakit/iot-core-adapter` `RegistryClient` fits). */
export interface RegistrySource {
  devices: {
    list(opts?: {
      fieldMask?: readonly ('blocked' | 'last_event_time' | 'last_heartbeat_time' | 'last_state_time')[];
    }): Paged<RegistryDevice>;
  };
}
