/**
 * The errors the telemetry store throws. Each is an {@link OtakitError} with its own `code`, and
 * `instanceof` works across copies of the package.
 */

import { brandErrorClass, OtakitError, type OtakitErrorOptions } from '@otakit/core';

/** The codes of the telemetry errors, for `switch (err.code)`. */
export const TelemetryErrorCodes = {
  /** A message or query was malformed (missing device id, unknown kind, payload too large, bad time). */
  INVALID: 'ERR_TELEMETRY_INVALID',
  /** The ingest queue is full: the caller should slow down and retry (the publisher is told). */
  BACKPRESSURE: 'ERR_TELEMETRY_BACKPRESSURE',
  /** The database refused or failed the write: the messages were not stored. */
  WRITE: 'ERR_TELEMETRY_WRITE',
  /** The database failed a query. */
  QUERY: 'ERR_TELEMETRY_QUERY',
  /** The store was closed. */
  CLOSED: 'ERR_TELEMETRY_CLOSED',
  /** The store target could not be opened (bad URL, unreachable server, locked file). */
  OPEN: 'ERR_TELEMETRY_OPEN',
} as const;

/** Base class of every telemetry error. */
export class TelemetryError extends OtakitError {}
brandErrorClass(TelemetryError, 'TelemetryError');

/** A message or query the store cannot accept, with what was wrong in `message`. */
export class TelemetryValidationError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions) {
    super(TelemetryErrorCodes.INVALID, message, options);
  }
}
brandErrorClass(TelemetryValidationError, 'TelemetryValidationError');

/**
 * The ingest queue holds `maxQueued` messages not yet stored: this one was refused, not buffered.
 * Tell the publisher (no PUBACK, HTTP 503) or wait for {@link TelemetryStore.whenWritable}.
 */
export class TelemetryBackpressureError extends TelemetryError {
  /** How many messages were waiting to be stored when this one was refused. */
  readonly queued: number;
  constructor(queued: number, limit: number) {
    super(
      TelemetryErrorCodes.BACKPRESSURE,
      `telemetry ingest queue is full (${queued} of ${limit} messages waiting to be stored)`,
    );
    this.queued = queued;
  }
}
brandErrorClass(TelemetryBackpressureError, 'TelemetryBackpressureError');

/** The database failed a write: none of the messages of that batch were stored. */
export class TelemetryWriteError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions) {
    super(TelemetryErrorCodes.WRITE, message, options);
  }
}
brandErrorClass(TelemetryWriteError, 'TelemetryWriteError');

/** The database failed a query. */
export class TelemetryQueryError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions) {
    super(TelemetryErrorCodes.QUERY, message, options);
  }
}
brandErrorClass(TelemetryQueryError, 'TelemetryQueryError');

/** The store was closed before (or while) the call ran. */
export class TelemetryClosedError extends TelemetryError {
  constructor() {
    super(TelemetryErrorCodes.CLOSED, 'the telemetry store is closed');
  }
}
brandErrorClass(TelemetryClosedError, 'TelemetryClosedError');

/** The store's target could not be opened. The message names the target with any password redacted. */
export class TelemetryOpenError extends TelemetryError {
  constructor(message: string, options?: OtakitErrorOptions) {
    super(TelemetryErrorCodes.OPEN, message, options);
  }
}
brandErrorClass(TelemetryOpenError, 'TelemetryOpenError');
