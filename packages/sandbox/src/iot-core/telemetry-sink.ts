/**
 * Where the IoT Core sandbox hands every accepted telemetry event and state message, and the gate
 * that bounds how many of those writes are in flight at once.
 *
 * @module
 */

/** One telemetry event or state message a device published, as handed to a {@link TelemetrySink}. */
export interface TelemetryRecord {
  /** The project id. */
  projectId: string;
  /** The registry's region, e.g. `us-central1`. */
  location: string;
  /** The registry id. */
  registryId: string;
  /** The device's string id. */
  deviceId: string;
  /** The device's numeric id (uint64 as a decimal string). */
  deviceNumId: string;
  /** `event` for telemetry (`/events[/subfolder]`, `:publishEvent`), `state` for state reports. */
  kind: 'event' | 'state';
  /** The telemetry subfolder, when one was given (never for state). */
  subfolder?: string;
  /** When the sandbox received it. */
  receivedAt: Date;
  /** The payload bytes, unparsed. */
  payload: Uint8Array;
  /**
   * The message's id, unique per accepted message. A QoS 1 redelivery of a message the sandbox
   * already handed over (the same packet id and payload, sent again with the DUP flag because its
   * PUBACK was lost) carries the same id, so a sink that keys on it stores the message once.
   */
  messageId: string;
}

/**
 * Stores what devices publish. The sandbox acknowledges a message only after `write` resolved: the
 * QoS 1 PUBACK or the HTTP 200 follows the stored record; a rejection reaches the publisher (an
 * HTTP 503, or a closed MQTT connection without PUBACK), so nothing accepted is lost.
 *
 * @example
 * ```ts
 * const rows: TelemetryRecord[] = []
 * const sandbox = await startIotCoreSandbox({ telemetrySink: { write: async (r) => { rows.push(r) } } })
 * ```
 */
export interface TelemetrySink {
  /** Stores one record; resolves once it is stored. */
  write(record: TelemetryRecord): Promise<void>;
}

/** The default bound on sink writes in flight at once. */
export const DEFAULT_MAX_IN_FLIGHT_WRITES = 256;

/**
 * Runs sink writes with at most `limit` in flight; further writes wait in FIFO order for a slot.
 * The waiters are bounded too: an MQTT connection reads its next packets only once the ones it has
 * are handled (aedes pauses the socket, TCP pushes back on the device), and an HTTP request holds
 * its connection until answered, so memory grows with connections, never with the message rate.
 * @internal
 */
export class SinkGate {
  readonly #sink: TelemetrySink;
  readonly #limit: number;
  readonly #waiting: Array<() => void> = [];
  #inFlight = 0;

  constructor(sink: TelemetrySink, limit = DEFAULT_MAX_IN_FLIGHT_WRITES) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('maxInFlightWrites must be >= 1');
    this.#sink = sink;
    this.#limit = limit;
  }

  /** Writes currently running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Writes waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Writes `record` when a slot is free; settles as the sink's promise does. */
  async write(record: TelemetryRecord): Promise<void> {
    if (this.#inFlight >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#inFlight++;
    }
    try {
      await this.#sink.write(record);
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so the count stays at the limit.
      if (next) next();
      else this.#inFlight--;
    }
  }
}
