import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { requireUser } from '../auth.js';
import { nowIso, type SandboxContext } from '../context.js';
import {
  addPendingDeviceDeployment,
  artifactsNamed,
  deploymentStatistics,
  deploymentStatus,
  renderDeployment,
  renderDeviceDeployment,
  updateDeploymentFinished,
} from '../deployments.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { deviceStatus } from '../fleet.js';
import { compareValues, objectBody, paginate } from '../http.js';
import { type DeploymentRecord, type DeviceDeploymentRecord, isFinished } from '../state.js';

const ACTIVE = [
  'downloading',
  'installing',
  'rebooting',
  'pause_before_installing',
  'pause_before_committing',
  'pause_before_rebooting',
];

/** deployments management: create/list/get/abort deployments, statistics, device lists, logs. @internal */
export async function deploymentsManagementRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireUser(ctx));
  const v1 = '/api/management/v1/deployments/deployments';
  const v2 = '/api/management/v2/deployments/deployments';

  const get = (id: string): DeploymentRecord => {
    const d = ctx.store.state.deployments[id];
    if (!d) throw notFound('Deployment not found');
    return d;
  };

  const create = (
    reply: FastifyReply,
    body: Record<string, unknown>,
    deviceIds: string[],
    group?: string,
  ) => {
    const { name, artifact_name: artifactName, force_installation: force } = body;
    if (typeof name !== 'string' || name === '') throw badRequest('name: cannot be blank.');
    if (name.length > 256) throw badRequest('name: the length must be no more than 256.');
    if (typeof artifactName !== 'string' || artifactName === '')
      throw badRequest('artifact_name: cannot be blank.');
    if (force !== undefined && typeof force !== 'boolean')
      throw badRequest('force_installation: must be a boolean.');
    if (deviceIds.length === 0) throw badRequest('no devices for the deployment');
    const artifacts = artifactsNamed(ctx, artifactName);
    if (artifacts.length === 0) throw new HttpError(422, 'Artifact not found');
    const duplicate = Object.values(ctx.store.state.deployments).some(
      (d) =>
        d.name === name &&
        d.artifact_name === artifactName &&
        deploymentStatus(ctx, d) !== 'finished' &&
        d.device_ids.length === deviceIds.length &&
        d.device_ids.every((id) => deviceIds.includes(id)),
    );
    if (duplicate) throw new HttpError(409, 'Deployment with the same name and artifact already exists');
    const created = nowIso(ctx);
    const d: DeploymentRecord = {
      id: randomUUID(),
      name,
      artifact_name: artifactName,
      created,
      aborted: false,
      force_installation: force === true,
      all_devices: body.all_devices === true,
      groups: group ? [group] : [],
      device_ids: deviceIds,
      artifacts: artifacts.map((a) => a.id),
    };
    ctx.store.state.deployments[d.id] = d;
    for (const deviceId of deviceIds) addPendingDeviceDeployment(ctx, d.id, deviceId, created);
    ctx.store.markChanged();
    return reply.code(201).header('Location', `${v1}/${d.id}`).send();
  };

  app.post(v1, async (request, reply) => {
    const body = objectBody(request.body);
    const hasDevices = body.devices !== undefined && body.devices !== null;
    const all = body.all_devices === true;
    if (hasDevices === all)
      throw badRequest('Invalid deployments definition: provide either devices or all_devices');
    let ids: string[];
    if (all) {
      ids = Object.values(ctx.store.state.devices)
        .filter((dev) => deviceStatus(dev) === 'accepted')
        .map((dev) => dev.id);
    } else {
      if (!Array.isArray(body.devices) || body.devices.some((x) => typeof x !== 'string')) {
        throw badRequest('devices: must be an array of device IDs.');
      }
      ids = [...new Set(body.devices as string[])];
    }
    return create(reply, body, ids);
  });

  app.post<{ Params: { name: string } }>(`${v1}/group/:name`, async (request, reply) => {
    const body = objectBody(request.body);
    const group = request.params.name;
    const ids = Object.values(ctx.store.state.inventory)
      .filter((inv) => inv.attributes['system/group']?.value === group)
      .map((inv) => inv.id);
    return create(reply, body, ids, group);
  });

  const listed = (q: Record<string, unknown>): DeploymentRecord[] => {
    let items = Object.values(ctx.store.state.deployments);
    const statuses =
      q.status === undefined ? [] : (Array.isArray(q.status) ? q.status : [q.status]).map(String);
    for (const s of statuses)
      if (!['pending', 'inprogress', 'finished'].includes(s)) throw badRequest(`invalid status: ${s}`);
    if (statuses.length > 0) items = items.filter((d) => statuses.includes(deploymentStatus(ctx, d)));
    const search = typeof q.search === 'string' ? q.search : typeof q.name === 'string' ? q.name : undefined;
    if (search) items = items.filter((d) => d.name.includes(search));
    const ids = q.id === undefined ? [] : (Array.isArray(q.id) ? q.id : [q.id]).map(String);
    if (ids.length > 0) items = items.filter((d) => ids.includes(d.id));
    const asc = typeof q.sort === 'string' && q.sort.toLowerCase().endsWith('asc');
    return items.sort(
      (a, b) => (asc ? 1 : -1) * (compareValues(a.created, b.created) || compareValues(a.id, b.id)),
    );
  };
  app.get<{ Querystring: Record<string, unknown> }>(v1, async (request, reply) =>
    paginate(request, reply, listed(request.query), { totalCount: true }).map((d) =>
      renderDeployment(ctx, d),
    ),
  );
  app.get<{ Querystring: Record<string, unknown> }>(v2, async (request, reply) =>
    paginate(request, reply, listed(request.query), { totalCount: true }).map((d) =>
      renderDeployment(ctx, d),
    ),
  );

  app.post(`${v1}/statistics/list`, async (request) => {
    const body = objectBody(request.body);
    if (!Array.isArray(body.deployment_ids)) throw badRequest('deployment_ids: cannot be blank.');
    return (body.deployment_ids as unknown[])
      .map(String)
      .filter((id) => ctx.store.state.deployments[id] !== undefined)
      .map((id) => ({ id, stats: deploymentStatistics(ctx, id) }));
  });

  app.get<{ Params: { id: string } }>(`${v1}/:id`, async (request) =>
    renderDeployment(ctx, get(request.params.id)),
  );

  app.put<{ Params: { id: string } }>(`${v1}/:id/status`, async (request, reply) => {
    const body = objectBody(request.body);
    if (body.status !== 'aborted') throw badRequest('status: must be "aborted".');
    const d = get(request.params.id);
    if (deploymentStatus(ctx, d) === 'finished') throw new HttpError(422, 'Deployment already finished');
    const ts = nowIso(ctx);
    for (const dd of ctx.store.deviceDeploymentsOf(d.id)) {
      if (!isFinished(dd.status)) {
        dd.status = 'aborted';
        dd.finished = ts;
      }
    }
    d.aborted = true;
    d.finished = ts;
    ctx.store.markChanged();
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>(`${v1}/:id/statistics`, async (request) => {
    get(request.params.id);
    return deploymentStatistics(ctx, request.params.id);
  });

  const devicesOf = (id: string): DeviceDeploymentRecord[] =>
    ctx.store.deviceDeploymentsOf(get(id).id).sort((a, b) => compareValues(a.device_id, b.device_id));

  app.get<{ Params: { id: string } }>(`${v1}/:id/devices`, async (request) =>
    devicesOf(request.params.id).map((dd) => renderDeviceDeployment(ctx, dd)),
  );

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    `${v1}/:id/devices/list`,
    async (request, reply) => {
      let items = devicesOf(request.params.id);
      const status = request.query.status;
      if (typeof status === 'string' && status !== '') {
        if (status === 'pause') items = items.filter((dd) => dd.status.startsWith('pause_'));
        else if (status === 'active') items = items.filter((dd) => ACTIVE.includes(dd.status));
        else if (status === 'finished') items = items.filter((dd) => isFinished(dd.status));
        else items = items.filter((dd) => dd.status === status);
      }
      return paginate(request, reply, items, { totalCount: true }).map((dd) =>
        renderDeviceDeployment(ctx, dd),
      );
    },
  );

  app.get<{ Params: { id: string } }>(
    `${v1}/:id/device_list`,
    async (request) => get(request.params.id).device_ids,
  );

  app.get<{ Params: { id: string; device: string } }>(
    `${v1}/:id/devices/:device/log`,
    async (request, reply) => {
      get(request.params.id);
      const dd = ctx.store.deviceDeployment(request.params.id, request.params.device);
      if (!dd?.log || dd.log.length === 0) throw notFound('Deployment log not found');
      const text = dd.log
        .map(
          (m) =>
            `${new Date(m.timestamp)
              .toISOString()
              .replace('T', ' ')
              .replace(/\.\d+Z$/, ' +0000 UTC')} ${m.level}: ${m.message}`,
        )
        .join('\n');
      return reply.code(200).type('text/plain; charset=utf-8').send(`${text}\n`);
    },
  );

  app.get<{ Params: { device: string } }>(`${v1}/devices/:device`, async (request) =>
    ctx.store.deviceDeploymentsOfDevice(request.params.device).map((dd) => {
      const d = ctx.store.state.deployments[dd.deployment_id];
      return {
        id: dd.id,
        ...(d ? { deployment: renderDeployment(ctx, d) } : {}),
        device: renderDeviceDeployment(ctx, dd),
      };
    }),
  );

  app.delete<{ Params: { device: string } }>(`${v1}/devices/:device`, async (request, reply) => {
    const ts = nowIso(ctx);
    for (const dd of ctx.store.deviceDeploymentsOfDevice(request.params.device)) {
      if (!isFinished(dd.status)) {
        dd.status = 'aborted';
        dd.finished = ts;
        const d = ctx.store.state.deployments[dd.deployment_id];
        if (d) updateDeploymentFinished(ctx, d);
      }
    }
    ctx.store.markChanged();
    return reply.code(204).send();
  });

  app.delete<{ Params: { device: string } }>(`${v1}/devices/:device/history`, async (request, reply) => {
    for (const [k, dd] of ctx.store.deviceDeploymentEntriesOfDevice(request.params.device)) {
      if (isFinished(dd.status)) ctx.store.deleteDeviceDeployment(k);
    }
    ctx.store.markChanged();
    return reply.code(204).send();
  });
}
