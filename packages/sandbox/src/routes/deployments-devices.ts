import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireDevice } from '../auth.js';
import { nowIso, type SandboxContext } from '../context.js';
import { REPORTABLE_STATUSES, selectArtifact, updateDeploymentFinished } from '../deployments.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { objectBody } from '../http.js';
import { signLink } from '../signing.js';
import { type DeviceDeploymentRecord, isFinished } from '../state.js';

/** How long a `next` download link lives, like the real server's presigned URLs: 24 h. */
export const NEXT_LINK_TTL_SECONDS = 24 * 60 * 60;

/** The path artifact downloads are served on. @internal */
export const downloadPath = (artifactId: string): string =>
  `/api/devices/v1/deployments/download/artifacts/${artifactId}`;

/** Absolute base URL of the request (scheme and host). @internal */
export const baseUrl = (request: FastifyRequest): string => `${request.protocol}://${request.host}`;

/** A signed download link for an artifact; `ttl` seconds unless the faults shorten it. @internal */
export function artifactLink(
  ctx: SandboxContext,
  request: FastifyRequest,
  artifactId: string,
  ttl: number,
  params: Record<string, string>,
) {
  const seconds = ctx.faults.linkExpirySeconds() ?? ttl;
  const expire = new Date(ctx.now().getTime() + seconds * 1000);
  const uri = `${baseUrl(request)}${signLink(downloadPath(artifactId), params, expire, ctx.secrets.linkKey)}`;
  return { uri, expire: expire.toISOString() };
}

/** How long a configuration download link lives: the server's `presign.expire_seconds`, 900 s. */
export const CONFIGURATION_LINK_TTL_SECONDS = 900;

/** The path a configuration deployment's generated artifact is served on. @internal */
export const configurationPath = (deploymentId: string, deviceType: string, deviceId: string): string =>
  `/api/devices/v1/deployments/download/configuration/${encodeURIComponent(deploymentId)}/${encodeURIComponent(deviceType)}/${encodeURIComponent(deviceId)}`;

/** A signed link to a configuration deployment's generated artifact. @internal */
export function configurationLink(
  ctx: SandboxContext,
  request: FastifyRequest,
  deploymentId: string,
  deviceType: string,
  deviceId: string,
) {
  const seconds = ctx.faults.linkExpirySeconds() ?? CONFIGURATION_LINK_TTL_SECONDS;
  const expire = new Date(ctx.now().getTime() + seconds * 1000);
  const path = configurationPath(deploymentId, deviceType, deviceId);
  const uri = `${baseUrl(request)}${signLink(path, {}, expire, ctx.secrets.linkKey)}`;
  return { uri, expire: expire.toISOString() };
}

interface NextQuery {
  artifact_name: string;
  device_type: string;
  provides?: Record<string, unknown>;
}

function checkNextQuery(artifactName: unknown, deviceType: unknown): void {
  for (const [name, v] of [
    ['artifact_name', artifactName],
    ['device_type', deviceType],
  ] as const) {
    if (typeof v !== 'string' || v === '') throw badRequest(`${name}: cannot be blank.`);
    if (v.length > 4096) throw badRequest(`${name}: the length must be between 1 and 4096.`);
  }
}

/** deployments, device side: `next` (v1 GET/POST, v2 POST), status and log. @internal */
export async function deploymentsDeviceRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireDevice(ctx));
  const v1 = '/api/devices/v1/deployments/device/deployments';

  const next = (request: FastifyRequest, reply: FastifyReply, q: NextQuery) => {
    const deviceId = request.device!.deviceId;
    const candidates = ctx.store
      .deviceDeploymentsOfDevice(deviceId)
      .filter((dd) => !isFinished(dd.status))
      .map((dd) => ({ dd, d: ctx.store.state.deployments[dd.deployment_id] }))
      .filter((c) => c.d !== undefined && !c.d.aborted)
      .sort((a, b) => (a.d!.created < b.d!.created ? -1 : a.d!.created > b.d!.created ? 1 : 0));
    const first = candidates[0];
    if (!first) return reply.code(204).send();
    const { dd } = first;
    const d = first.d!;
    const finish = (status: DeviceDeploymentRecord['status']) => {
      dd.status = status;
      dd.finished = nowIso(ctx);
      ctx.store.markChanged();
      updateDeploymentFinished(ctx, d);
    };
    const requestData = { artifact_name: q.artifact_name, device_type: q.device_type };
    if (
      dd.request &&
      (dd.request.artifact_name !== q.artifact_name || dd.request.device_type !== q.device_type)
    ) {
      finish('failure');
      throw new HttpError(409, 'conflicting request data provided');
    }
    dd.request = requestData;
    dd.device_type = q.device_type;
    ctx.store.markChanged();
    if (d.type === 'configuration') {
      // Generated on demand (no artifact record): the id is deployment + device, like the server.
      dd.started ??= nowIso(ctx);
      return reply.code(200).send({
        id: d.id,
        artifact: {
          id: `${d.id}${deviceId}`,
          artifact_name: d.artifact_name,
          source: configurationLink(ctx, request, d.id, q.device_type, deviceId),
          device_types_compatible: [q.device_type],
        },
      });
    }
    const artifact = dd.artifact_id
      ? ctx.store.state.artifacts[dd.artifact_id]
      : selectArtifact(ctx, d, q.device_type, q.provides);
    if (!artifact) {
      finish('noartifact');
      return reply.code(204).send();
    }
    if (!d.force_installation && dd.status === 'pending' && q.artifact_name === artifact.name) {
      finish('already-installed');
      return reply.code(204).send();
    }
    dd.artifact_id = artifact.id;
    dd.started ??= nowIso(ctx);
    const source = artifactLink(ctx, request, artifact.id, NEXT_LINK_TTL_SECONDS, {
      deployment: d.id,
      device: deviceId,
    });
    return reply.code(200).send({
      id: d.id,
      artifact: {
        id: artifact.id,
        artifact_name: artifact.name,
        source,
        device_types_compatible: artifact.device_types_compatible,
      },
    });
  };

  app.get<{ Querystring: Record<string, unknown> }>(`${v1}/next`, async (request, reply) => {
    const { artifact_name, device_type } = request.query;
    checkNextQuery(artifact_name, device_type);
    return next(request, reply, {
      artifact_name: artifact_name as string,
      device_type: device_type as string,
    });
  });

  app.post(`${v1}/next`, async (request, reply) => {
    const body = objectBody(request.body);
    checkNextQuery(body.artifact_name, body.device_type);
    return next(request, reply, {
      artifact_name: body.artifact_name as string,
      device_type: body.device_type as string,
    });
  });

  app.post('/api/devices/v2/deployments/device/deployments/next', async (request, reply) => {
    if (!ctx.v2Next || ctx.faults.v2NextDisabled()) throw notFound('not found');
    const body = objectBody(request.body);
    const provides = body.device_provides;
    if (typeof provides !== 'object' || provides === null || Array.isArray(provides)) {
      throw badRequest('device_provides: cannot be blank.');
    }
    const p = provides as Record<string, unknown>;
    checkNextQuery(p.artifact_name, p.device_type);
    return next(request, reply, {
      artifact_name: p.artifact_name as string,
      device_type: p.device_type as string,
      provides: p,
    });
  });

  const deviceDeployment = (request: FastifyRequest<{ Params: { id: string } }>): DeviceDeploymentRecord => {
    const dd = ctx.store.deviceDeployment(request.params.id, request.device!.deviceId);
    if (!dd) throw notFound('Deployment not found');
    return dd;
  };

  app.put<{ Params: { id: string } }>(`${v1}/:id/status`, async (request, reply) => {
    const body = objectBody(request.body);
    const status = body.status;
    if (typeof status !== 'string' || !REPORTABLE_STATUSES.includes(status))
      throw badRequest('status: must be a valid value.');
    if (body.substate !== undefined && (typeof body.substate !== 'string' || body.substate.length > 200)) {
      throw badRequest('substate: the length must be no more than 200.');
    }
    const dd = deviceDeployment(request);
    if (dd.status === 'aborted') throw new HttpError(409, 'Deployment aborted');
    if (dd.status === 'decommissioned') throw new HttpError(409, 'Device decommissioned');
    if (dd.status !== status || body.substate !== undefined) {
      dd.status = status as DeviceDeploymentRecord['status'];
      if (typeof body.substate === 'string') dd.substate = body.substate;
      dd.started ??= nowIso(ctx);
      if (isFinished(status)) dd.finished = nowIso(ctx);
      ctx.store.markChanged();
      const d = ctx.store.state.deployments[dd.deployment_id];
      if (d) updateDeploymentFinished(ctx, d);
    }
    return reply.code(204).send();
  });

  app.put<{ Params: { id: string } }>(`${v1}/:id/log`, async (request, reply) => {
    const body = objectBody(request.body);
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      throw badRequest('messages: cannot be blank.');
    const messages = body.messages.map((m: unknown) => {
      const { timestamp, level, message } = (m ?? {}) as Record<string, unknown>;
      if (typeof timestamp !== 'string' || timestamp === '' || !Number.isFinite(Date.parse(timestamp))) {
        throw badRequest('timestamp: cannot be blank.');
      }
      if (typeof level !== 'string' || level === '') throw badRequest('level: cannot be blank.');
      if (typeof message !== 'string' || message === '') throw badRequest('message: cannot be blank.');
      return { timestamp, level, message };
    });
    const dd = deviceDeployment(request);
    dd.log = messages;
    ctx.store.markChanged();
    return reply.code(204).send();
  });
}
