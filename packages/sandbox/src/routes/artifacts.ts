import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { receiveArtifactUpload } from '../artifact-intake.js';
import { requireUser } from '../auth.js';
import type { SandboxContext } from '../context.js';
import { artifactsNamed, renderArtifact } from '../deployments.js';
import { badRequest, HttpError, notFound } from '../errors.js';
import { compareValues, objectBody, paginate } from '../http.js';
import { type ArtifactRecord, isFinished } from '../state.js';
import { artifactLink } from './deployments-devices.js';

/** How long a management download link lives (the real server's default: 900 s). */
export const MANAGEMENT_LINK_TTL_SECONDS = 900;
/** Largest artifact accepted (the real server's default `storage.max_image_size`: 10 GiB). */
export const MAX_ARTIFACT_BYTES = 10 * 1024 ** 3;

/** deployments management: artifacts and releases (v1 and v2). @internal */
export async function artifactRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireUser(ctx));
  await app.register(multipart, {
    limits: { fileSize: MAX_ARTIFACT_BYTES, files: 1, fields: 10, parts: 20 },
  });
  const v1 = '/api/management/v1/deployments';
  const v2 = '/api/management/v2/deployments';

  const all = (): ArtifactRecord[] =>
    Object.values(ctx.store.state.artifacts).sort(
      (a, b) => compareValues(a.modified, b.modified) || compareValues(a.id, b.id),
    );
  const get = (id: string): ArtifactRecord => {
    const a = ctx.store.state.artifacts[id];
    if (!a) throw notFound('Artifact not found');
    return a;
  };

  app.post(`${v1}/artifacts`, async (request, reply) => {
    if (!request.isMultipart()) throw new HttpError(415, 'expected a multipart/form-data request');
    const record = await receiveArtifactUpload(ctx, request.parts());
    return reply.code(201).header('Location', `${v1}/artifacts/${record.id}`).send();
  });

  app.get(`${v1}/artifacts`, async () => all().map(renderArtifact));

  const filtered = (q: Record<string, unknown>): ArtifactRecord[] => {
    let items = all();
    if (typeof q.name === 'string' && q.name !== '')
      items = items.filter((a) => a.name.startsWith(q.name as string));
    if (typeof q.description === 'string' && q.description !== '') {
      items = items.filter((a) => a.description.includes(q.description as string));
    }
    if (typeof q.device_type === 'string' && q.device_type !== '') {
      items = items.filter((a) => a.device_types_compatible.includes(q.device_type as string));
    }
    if (typeof q.sort === 'string' && q.sort !== '') {
      const [field = 'name', order = 'asc'] = q.sort.split(':');
      const key = field === 'modified' ? 'modified' : 'name';
      items = [...items].sort((a, b) => (order === 'desc' ? -1 : 1) * compareValues(a[key], b[key]));
    }
    return items;
  };
  app.get<{ Querystring: Record<string, unknown> }>(`${v1}/artifacts/list`, async (request, reply) =>
    paginate(request, reply, filtered(request.query), { totalCount: true }).map(renderArtifact),
  );
  app.get<{ Querystring: Record<string, unknown> }>(`${v2}/artifacts`, async (request, reply) =>
    paginate(request, reply, filtered(request.query), { totalCount: false }).map(renderArtifact),
  );

  app.get<{ Params: { id: string } }>(`${v1}/artifacts/:id`, async (request) =>
    renderArtifact(get(request.params.id)),
  );

  app.put<{ Params: { id: string } }>(`${v1}/artifacts/:id`, async (request, reply) => {
    const body = objectBody(request.body);
    if (body.description !== undefined && typeof body.description !== 'string')
      throw badRequest('description: must be a string');
    const a = get(request.params.id);
    a.description = (body.description as string | undefined) ?? '';
    ctx.store.markChanged();
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string } }>(`${v1}/artifacts/:id`, async (request, reply) => {
    const a = get(request.params.id);
    const inUse =
      Object.values(ctx.store.state.deviceDeployments).some(
        (dd) => dd.artifact_id === a.id && !isFinished(dd.status),
      ) ||
      Object.values(ctx.store.state.deployments).some(
        (d) => !d.aborted && !d.finished && d.artifacts.includes(a.id),
      );
    if (inUse) throw new HttpError(409, 'Artifact used in active deployment');
    delete ctx.store.state.artifacts[a.id];
    ctx.store.markChanged();
    await rm(join(ctx.artifactsDir, `${a.id}.mender`), { force: true });
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>(`${v1}/artifacts/:id/download`, async (request) => {
    const a = get(request.params.id);
    return artifactLink(ctx, request, a.id, MANAGEMENT_LINK_TTL_SECONDS, { purpose: 'management' });
  });

  app.get(`${v1}/limits/storage`, async () => ({
    limit: 0,
    usage: all().reduce((sum, a) => sum + a.size, 0),
  }));

  const releases = () => {
    const names = [...new Set(all().map((a) => a.name))].sort();
    return names.map((name) => {
      const artifacts = artifactsNamed(ctx, name);
      const modified =
        artifacts
          .map((a) => a.modified)
          .sort()
          .at(-1) ?? '';
      return { name, modified, artifacts };
    });
  };
  const releaseV1 = (r: ReturnType<typeof releases>[number]) => ({
    Name: r.name,
    modified: r.modified,
    Artifacts: r.artifacts.map(renderArtifact),
    ArtifactsCount: r.artifacts.length,
    tags: [],
    notes: '',
  });
  const releaseV2 = (r: ReturnType<typeof releases>[number]) => ({
    name: r.name,
    modified: r.modified,
    artifacts: r.artifacts.map(renderArtifact),
    tags: [],
    notes: '',
  });
  const byName = (q: Record<string, unknown>) => {
    const name = typeof q.name === 'string' ? q.name : undefined;
    return releases().filter((r) => name === undefined || name === '' || r.name.includes(name));
  };
  app.get<{ Querystring: Record<string, unknown> }>(`${v1}/deployments/releases`, async (request) =>
    byName(request.query).map(releaseV1),
  );
  app.get<{ Querystring: Record<string, unknown> }>(
    `${v1}/deployments/releases/list`,
    async (request, reply) =>
      paginate(request, reply, byName(request.query), { totalCount: true }).map(releaseV1),
  );
  app.get<{ Querystring: Record<string, unknown> }>(`${v2}/deployments/releases`, async (request, reply) =>
    paginate(request, reply, byName(request.query), { totalCount: true }).map(releaseV2),
  );
  app.get<{ Params: { name: string } }>(`${v2}/deployments/releases/:name`, async (request) => {
    const r = releases().find((x) => x.name === request.params.name);
    if (!r) throw notFound('release not found');
    return releaseV2(r);
  });
  app.get(`${v2}/releases/all/types`, async () => [...new Set(all().flatMap((a) => a.payload_types))].sort());
  app.get(`${v2}/releases/all/tags`, async () => []);
}
