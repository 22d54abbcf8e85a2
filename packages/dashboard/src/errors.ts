/**
 * The dashboard's errors. Each is an `OtakitError` with its own `code`, and `instanceof` works
 * across copies of the package.
 */

import { brandErrorClass, OtakitError } from '@otakit/core';

/** The codes of the dashboard errors, for `switch (err.code)`. */
export const DashboardErrorCodes = {
  /** The page's bundle (dist/page) is missing: the package was not built. */
  ASSETS_MISSING: 'ERR_DASHBOARD_ASSETS_MISSING',
  /** An option of `startDashboard` is invalid (e.g. no management or telemetry source). */
  INVALID_OPTIONS: 'ERR_DASHBOARD_INVALID_OPTIONS',
} as const;

/** Base class of every dashboard error. */
export class DashboardError extends OtakitError {}
brandErrorClass(DashboardError, 'DashboardError');

/** The page's bundle was not found; build the package (`pnpm build`). */
export class DashboardAssetsMissingError extends DashboardError {
  constructor(message: string) {
    super(DashboardErrorCodes.ASSETS_MISSING, message);
  }
}
brandErrorClass(DashboardAssetsMissingError, 'DashboardAssetsMissingError');

/** `startDashboard` was given options it cannot run with. */
export class DashboardOptionsError extends DashboardError {
  constructor(message: string) {
    super(DashboardErrorCodes.INVALID_OPTIONS, message);
  }
}
brandErrorClass(DashboardOptionsError, 'DashboardOptionsError');
