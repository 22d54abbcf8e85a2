import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { writeArtifact } from '@otakit/core';
import type { FastifyInstance } from 'fastify';
import { requireDevice, requireUser } from '../auth.js';
import { nowIso, type SandboxContext } from '../context.js';
import { addPendingDeviceDeployment } from '../deployments.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { objectBody } from '../http.js';
import { requireSignedLink } from '../signing.js';
import type { DeploymentRecord, DeviceConfigRecord } from '../state.js';

const MANAGEMENT = '/api/management/v1/deviceconfig/configurations/device';
const DEVICE = '/api/devices/v1/deviceconfig/configuration';
const CONFIGURATION_DOWNLOAD = '/api/devices/v1/deployments/download/configuration';

/** The update module configuration artifacts are generated for, as the server does. */
export const CONFIGURE_MODULE = 'mender-configure';
/** The provide a configuration artifact sets (its value: the artifact name). */
export const CONFIGURE_PROVIDES = 'data-partition.mender-configure.version';

/** Longest key or value the server accepts (it wants fewer than 4096 characters). */
const MAX_LENGTH = 4095;

/**
 * A flat `{string: string}` configuration, validated like the deviceconfig service: every key and
 * value non-empty and shorter than 4096 characters; 400 otherwise. @internal
 */
export function parseConfiguration(body: unknown): Record<string, string> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('malformed request body: expected a JSON object of strings');
  }
  const out = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(body)) {
    if (key === '') throw badRequest('invalid request body: key: cannot be blank.');
    if (key.length > MAX_LENGTH)
      throw badRequest('invalid request body: key: the length must be less than 4096.');
    if (typeof value !== 'string')
      throw badRequest(`malformed request body: value of "${key}" is not a string`);
    if (value === '') throw badRequest('invalid request body: value: cannot be blank.');
    if (value.length > MAX_LENGTH)
      throw badRequest('invalid request body: value: the length must be less than 4096.');
    out[key] = value;
  }
  return out;
}

const copy = (values: Record<string, string>): Record<string, string> => ({ ...values });

/**
 * The deviceconfig record of a device. The service provisions one when a device is accepted and
 * drops it on decommissioning, so any device deviceauth knows has one (empty until set).
 */
function recordOf(ctx: SandboxContext, deviceId: string): DeviceConfigRecord | undefined {
  const existing = ctx.store.state.deviceConfigs[deviceId];
  if (existing) return existing;
  const device = ctx.store.state.devices[deviceId];
  if (!device || device.decommissioning) return undefined;
  return { id: deviceId, configured: {}, reported: {}, updated_ts: device.created_ts };
}

function render(record: DeviceConfigRecord): Record<string, unknown> {
  return {
    id: record.id,
    configured: copy(record.configured),
    reported: copy(record.reported),
    ...(record.deployment_id ? { deployment_id: record.deployment_id } : {}),
    updated_ts: record.updated_ts,
    ...(record.reported_ts ? { reported_ts: record.reported_ts } : {}),
  };
}

/** deviceconfig management: get/set a device's configuration and deploy it. @internal */
export async function deviceconfigManagementRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireUser(ctx));

  app.get<{ Params: { deviceId: string } }>(`${MANAGEMENT}/:deviceId`, async (request) => {
    const record = recordOf(ctx, request.params.deviceId);
    if (!record) throw notFound('device not found');
    return render(record);
  });

  app.put<{ Params: { deviceId: string } }>(`${MANAGEMENT}/:deviceId`, async (request, reply) => {
    const configured = parseConfiguration(request.body);
    const id = request.params.deviceId;
    // Like the service's upsert: the desired configuration is kept even for a device not seen yet.
    const record = recordOf(ctx, id) ?? { id, configured: {}, reported: {}, updated_ts: nowIso(ctx) };
    record.configured = configured;
    record.updated_ts = nowIso(ctx);
    ctx.store.state.deviceConfigs[id] = record;
    ctx.store.markChanged();
    return reply.code(204).send();
  });

  app.post<{ Params: { deviceId: string } }>(`${MANAGEMENT}/:deviceId/deploy`, async (request, reply) => {
    const deviceId = request.params.deviceId;
    const record = recordOf(ctx, deviceId);
    const device = ctx.store.state.devices[deviceId];
    if (!record || !device || device.decommissioning) throw notFound('device not found');
    const body = objectBody(request.body);
    const { retries, update_control_map: controlMap } = body;
    if (retries !== undefined && (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0)) {
      throw badRequest('malformed request body: retries: must be a non-negative integer');
    }
    if (
      controlMap !== undefined &&
      (typeof controlMap !== 'object' || controlMap === null || Array.isArray(controlMap))
    ) {
      throw badRequest('malformed request body: update_control_map: must be an object');
    }
    const created = nowIso(ctx);
    // The configuration deployment the workflow creates in deployments: one device, named after
    // it, the artifact generated on demand from the configuration when the device asks for it.
    const d: DeploymentRecord = {
      id: randomUUID(),
      name: deviceId,
      artifact_name: deviceId,
      created,
      aborted: false,
      force_installation: false,
      all_devices: false,
      groups: [],
      device_ids: [deviceId],
      artifacts: [],
      type: 'configuration',
      configuration: JSON.stringify(record.configured),
      retries: (retries as number | undefined) ?? 0,
      ...(controlMap !== undefined ? { update_control_map: controlMap as Record<string, unknown> } : {}),
    };
    const group = ctx.store.state.inventory[deviceId]?.attributes['system/group']?.value;
    if (typeof group === 'string') d.groups = [group];
    ctx.store.state.deployments[d.id] = d;
    addPendingDeviceDeployment(ctx, d.id, deviceId, created);
    record.deployment_id = d.id;
    ctx.store.state.deviceConfigs[deviceId] = record;
    ctx.store.markChanged();
    return reply.code(200).send({ deployment_id: d.id });
  });
}

/** deviceconfig, device side: the configured values, and reporting the applied ones. @internal */
export async function deviceconfigDeviceRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireDevice(ctx));

  app.get(DEVICE, async (request) => {
    const record = recordOf(ctx, request.device!.deviceId);
    if (!record) throw notFound('device not found');
    return copy(record.configured);
  });

  app.put(DEVICE, async (request, reply) => {
    const reported = parseConfiguration(request.body);
    const id = request.device!.deviceId;
    const record = recordOf(ctx, id);
    if (!record) throw notFound('device not found');
    record.reported = reported;
    record.reported_ts = nowIso(ctx);
    ctx.store.state.deviceConfigs[id] = record;
    ctx.store.markChanged();
    return reply.code(204).send();
  });
}

/**
 * The generated artifact of a configuration deployment, through the signed link `next` gives (no
 * token): a module-image for `mender-configure` whose meta-data is the configuration. @internal
 */
export async function configurationDownloadRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.get<{ Params: { deploymentId: string; deviceType: string; deviceId: string } }>(
    `${CONFIGURATION_DOWNLOAD}/:deploymentId/:deviceType/:deviceId`,
    async (request, reply) => {
      requireSignedLink(ctx, request.url);
      const { deploymentId, deviceType, deviceId } = request.params;
      const d = ctx.store.state.deployments[deploymentId];
      if (d?.type !== 'configuration' || !d.device_ids.includes(deviceId))
        throw notFound('Deployment not found');
      let metaData: Record<string, unknown>;
      try {
        metaData = JSON.parse(d.configuration ?? '{}') as Record<string, unknown>;
      } catch {
        throw new HttpError(500, 'malformed configuration in deployment');
      }
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (chunk: Buffer) => chunks.push(chunk));
      const ended = new Promise<void>((resolve, reject) => {
        out.on('end', resolve);
        out.on('error', reject);
      });
      await writeArtifact(
        {
          type: 'module-image',
          moduleType: CONFIGURE_MODULE,
          artifactName: d.artifact_name,
          deviceTypes: [deviceType],
          provides: { [CONFIGURE_PROVIDES]: d.artifact_name },
          clearsProvides: ['data-partition.mender-configure.*'],
          noDefaultClearsProvides: true,
          noDefaultSoftwareVersion: true,
          metaData,
          compression: 'none',
          mtime: new Date(d.created),
        },
        out,
      );
      await ended;
      const body = Buffer.concat(chunks);
      return reply
        .code(200)
        .type('application/vnd.mender-artifact')
        .header('Content-Disposition', `attachment; filename="${d.artifact_name}.mender"`)
        .send(body);
    },
  );
}
