import type { RequestOptions } from '@otakit/core';
import type { DeploymentLogEntry } from '../api/device-api.js';
import type { DeploymentStatus } from './states.js';

/**
 * What the update machine needs of the server while it runs a deployment: one object instead of
 * loose callbacks. {@link DeviceClient} builds it over its {@link DeviceApi}; standalone installs
 * (file, URL) run without one.
 */
export interface DeploymentChannel {
  /** Reports a status. Throws `DeviceError` `ERR_DEVICE_DEPLOYMENT_ABORTED` when the server aborted it (409). */
  reportStatus(deploymentId: string, status: DeploymentStatus, options?: RequestOptions): Promise<void>;
  /** Uploads the deployment log (after a failure). */
  uploadLog(deploymentId: string, entries: DeploymentLogEntry[], options?: RequestOptions): Promise<void>;
  /**
   * A fresh download link for the deployment (asks `next` again), or undefined when the server no
   * longer offers this deployment.
   */
  refreshLink(deploymentId: string, options?: RequestOptions): Promise<string | undefined>;
}
