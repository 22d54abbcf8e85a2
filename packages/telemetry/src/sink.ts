import type { TelemetryMessage } from './message.js';
import type { TelemetryStore } from './store.js';

/** A message an IoT Core bridge accepted (the sandbox's `TelemetryRecord`, by shape). */
export interface BridgeRecord {
  projectId: string;
  location: string;
  registryId: string;
  deviceId: string;
  kind: 'event' | 'state';
  subfolder?: string | undefined;
  receivedAt: Date;
  payload: Uint8Array;
  /** The bridge's id of the message (the same for a redelivery); the store keeps one row per id. */
  messageId?: string | undefined;
}

/**
 * The sink an IoT Core bridge (the sandbox's MQTT and HTTP bridges: `startSandbox({ iotCore: {
 * telemetrySink } })`) hands every accepted message to: the store. The bridge acknowledges (PUBACK,
 * HTTP 200) only once `write` resolved, i.e. once the row is durable, and tells the publisher when
 * it rejects.
 *
 * @example
 * ```ts
 * const store = await openTelemetryStore('./data')
 * const sandbox = await startSandbox({ iotCore: { telemetrySink: storeSink(store) } })
 * ```
 */
export function storeSink(store: Pick<TelemetryStore, 'append'>): {
  write(record: BridgeRecord): Promise<void>;
} {
  return {
    write(record) {
      const message: TelemetryMessage = {
        deviceId: record.deviceId,
        registry: `projects/${record.projectId}/locations/${record.location}/registries/${record.registryId}`,
        kind: record.kind,
        payload: record.payload,
        receivedAt: record.receivedAt,
      };
      if (record.subfolder) message.subfolder = record.subfolder;
      if (record.messageId) message.id = `iot-core:${record.messageId}`;
      return store.append(message).then(stored);
    },
  };
}

/** What the sink's promise resolves with: nothing (the store's result is not the bridge's). */
function stored(): void {}
