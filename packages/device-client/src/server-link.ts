import { HttpClient, type Logger, loadPrivateKey, type RequestOptions } from '@otakit/core';
import { type DeploymentInstructions, DeviceApi } from './api/device-api.js';
import type { HealthCheck } from './health/health-checks.js';
import { type DeviceClientOptions, pickTransport } from './options.js';
import type { DeploymentChannel } from './update/channel.js';

/** How a `DeviceClient` reaches its server, resolved from its options. @internal */
export interface ServerLink {
  /** The transport of API calls and downloads: the injected `http`, or one built from the options. */
  http: HttpClient;
  /** Whether the client built `http` (and so closes it). */
  ownsHttp: boolean;
  /** The device API; undefined without `serverUrl` (standalone installs only). */
  api: DeviceApi | undefined;
}

/**
 * Resolves the transport and the device API from the options: an injected `http` wins over the
 * transport options; `serverUrl` needs `privateKey` and `identity` (a `TypeError` otherwise).
 * @internal
 */
export function linkServer(
  options: DeviceClientOptions,
  logger: Logger,
  onAuthenticated: () => void,
): ServerLink {
  const http =
    options.http ??
    new HttpClient({
      baseUrl: options.serverUrl ?? 'http://localhost.invalid',
      ...pickTransport(options),
      logger,
    });
  const ownsHttp = options.http === undefined;
  if (options.serverUrl === undefined) return { http, ownsHttp, api: undefined };
  if (options.privateKey === undefined || options.identity === undefined) {
    throw new TypeError('DeviceClient: serverUrl needs privateKey and identity');
  }
  const privateKey =
    typeof options.privateKey === 'string' ? loadPrivateKey(options.privateKey) : options.privateKey;
  const api = new DeviceApi({
    http,
    privateKey,
    identity: options.identity,
    tenantToken: options.tenantToken,
    onAuthenticated,
  });
  return { http, ownsHttp, api };
}

/** The health checks run after a reboot when the options give none: the server authenticates the device. @internal */
export function defaultHealthChecks(api: DeviceApi | undefined): HealthCheck[] {
  return api ? [{ name: 'server', check: () => api.authenticate(), timeoutMs: 60_000 }] : [];
}

/**
 * The server side of the deployments a client runs, over its device API. `checkForUpdate` asks
 * `next` again for a fresh download link.
 * @internal
 */
export function deploymentChannel(
  api: DeviceApi,
  checkForUpdate: (options?: RequestOptions) => Promise<DeploymentInstructions | undefined>,
): DeploymentChannel {
  return {
    reportStatus: (id, status, options) => api.reportStatus(id, status, undefined, options),
    uploadLog: (id, entries, options) => api.uploadLog(id, entries, options),
    refreshLink: async (id, options) => {
      const next = await checkForUpdate(options);
      return next?.id === id ? next.artifact.source.uri : undefined;
    },
  };
}
