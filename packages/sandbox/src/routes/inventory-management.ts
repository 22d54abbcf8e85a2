import type { FastifyInstance } from 'fastify';
import { requireUser } from '../auth.js';
import { nowIso, type SandboxContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { compareValues, objectBody, paginate, readPage } from '../http.js';
import {
  type FilterPredicate,
  matchesFilter,
  parseFilters,
  parseQueryFilters,
  renderInventory,
  SCOPES,
} from '../inventory-filters.js';
import type { InventoryRecord } from '../state.js';

const GROUP_NAME = /^[A-Za-z0-9_-]+$/;

/** inventory management v1 and v2. @internal */
export async function inventoryManagementRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.addHook('onRequest', requireUser(ctx));
  const v1 = '/api/management/v1/inventory';
  const v2 = '/api/management/v2/inventory';

  const all = (): InventoryRecord[] =>
    Object.values(ctx.store.state.inventory).sort(
      (a, b) => compareValues(a.created_ts, b.created_ts) || compareValues(a.id, b.id),
    );
  const get = (id: string): InventoryRecord => {
    const inv = ctx.store.state.inventory[id];
    if (!inv) throw notFound('Device not found');
    return inv;
  };
  const groupOf = (inv: InventoryRecord): string | undefined =>
    inv.attributes['system/group']?.value as string | undefined;
  const setGroup = (inv: InventoryRecord, group: string | undefined): void => {
    if (group === undefined) delete inv.attributes['system/group'];
    else
      inv.attributes['system/group'] = {
        name: 'group',
        scope: 'system',
        value: group,
        timestamp: nowIso(ctx),
      };
    inv.updated_ts = nowIso(ctx);
    ctx.store.markChanged();
  };
  const checkGroupName = (name: unknown): string => {
    if (typeof name !== 'string' || name === '') throw badRequest('group: cannot be blank.');
    if (name.length > 256 || !GROUP_NAME.test(name)) throw badRequest('group: must be in a valid format.');
    return name;
  };
  const sortBy = (items: InventoryRecord[], sort: { scope: string; attribute: string; order: string }[]) =>
    sort.length === 0
      ? items
      : [...items].sort((a, b) => {
          for (const s of sort) {
            const c = compareValues(
              a.attributes[`${s.scope}/${s.attribute}`]?.value,
              b.attributes[`${s.scope}/${s.attribute}`]?.value,
            );
            if (c !== 0) return s.order === 'desc' ? -c : c;
          }
          return 0;
        });

  app.get<{ Querystring: Record<string, unknown> }>(`${v1}/devices`, async (request, reply) => {
    const q = request.query;
    const filters = parseQueryFilters(q, ['page', 'per_page', 'sort', 'has_group', 'group']);
    let items = all().filter((d) => filters.every((f) => matchesFilter(d, f)));
    if (q.group !== undefined) items = items.filter((d) => groupOf(d) === String(q.group));
    if (q.has_group !== undefined)
      items = items.filter((d) => (groupOf(d) !== undefined) === (String(q.has_group) === 'true'));
    if (typeof q.sort === 'string' && q.sort !== '') {
      const [attrPath, order = 'asc'] = q.sort.split(':');
      const slash = (attrPath ?? '').indexOf('/');
      const scope = slash > 0 ? (attrPath ?? '').slice(0, slash) : 'inventory';
      const attribute = slash > 0 ? (attrPath ?? '').slice(slash + 1) : (attrPath ?? '');
      items = sortBy(items, [{ scope, attribute, order }]);
    }
    return paginate(request, reply, items, { totalCount: true }).map((d) => renderInventory(d));
  });

  app.get<{ Params: { id: string } }>(`${v1}/devices/:id`, async (request) =>
    renderInventory(get(request.params.id)),
  );

  app.delete<{ Params: { id: string } }>(`${v1}/devices/:id`, async (request, reply) => {
    delete ctx.store.state.inventory[request.params.id];
    ctx.store.markChanged();
    return reply.code(204).send();
  });

  const tags =
    (replace: boolean) =>
    async (request: { params: { id: string }; body: unknown }, reply: import('fastify').FastifyReply) => {
      const inv = get(request.params.id);
      if (!Array.isArray(request.body))
        throw badRequest('failed to decode request body: expected an array of tags');
      const ts = nowIso(ctx);
      if (replace)
        for (const [k, v] of Object.entries(inv.attributes)) if (v.scope === 'tags') delete inv.attributes[k];
      for (const t of request.body as unknown[]) {
        const { name, value, description } = (t ?? {}) as Record<string, unknown>;
        if (typeof name !== 'string' || name === '' || typeof value !== 'string')
          throw badRequest('tags: name and value must be strings');
        inv.attributes[`tags/${name}`] = {
          name,
          value,
          scope: 'tags',
          timestamp: ts,
          ...(typeof description === 'string' ? { description } : {}),
        };
      }
      inv.updated_ts = ts;
      ctx.store.markChanged();
      return reply.code(200).send();
    };
  app.put<{ Params: { id: string } }>(`${v1}/devices/:id/tags`, tags(true));
  app.patch<{ Params: { id: string } }>(`${v1}/devices/:id/tags`, tags(false));

  app.get<{ Params: { id: string } }>(`${v1}/devices/:id/group`, async (request) => ({
    group: groupOf(get(request.params.id)) ?? null,
  }));

  app.put<{ Params: { id: string } }>(`${v1}/devices/:id/group`, async (request, reply) => {
    const group = checkGroupName(objectBody(request.body).group);
    setGroup(get(request.params.id), group);
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string; name: string } }>(
    `${v1}/devices/:id/group/:name`,
    async (request, reply) => {
      const inv = get(request.params.id);
      if (groupOf(inv) !== request.params.name) throw notFound('Device group not found');
      setGroup(inv, undefined);
      return reply.code(204).send();
    },
  );

  const groups = (): string[] =>
    [
      ...new Set(
        all()
          .map(groupOf)
          .filter((g): g is string => g !== undefined),
      ),
    ].sort();
  app.get(`${v1}/groups`, async () => groups());

  const membersOf = (name: string): InventoryRecord[] => all().filter((d) => groupOf(d) === name);
  const clearGroup = (name: string) => {
    const members = membersOf(checkGroupName(name));
    if (members.length === 0) throw notFound('group not found');
    for (const d of members) setGroup(d, undefined);
    return { updated_count: members.length };
  };
  app.delete<{ Params: { name: string } }>(`${v1}/groups/:name`, async (request) =>
    clearGroup(request.params.name),
  );
  app.delete<{ Params: { name: string } }>(`${v1}/groups/:name/devices`, async (request) => {
    const name = checkGroupName(request.params.name);
    if (!Array.isArray(request.body))
      throw badRequest('failed to decode request body: expected an array of device IDs');
    const ids = (request.body as unknown[]).map(String);
    const members = membersOf(name).filter((d) => ids.includes(d.id));
    for (const d of members) setGroup(d, undefined);
    return { updated_count: members.length };
  });
  app.get<{ Params: { name: string } }>(`${v1}/groups/:name/devices`, async (request, reply) => {
    const members = membersOf(checkGroupName(request.params.name));
    if (members.length === 0) throw notFound('group not found');
    return paginate(
      request,
      reply,
      members.map((d) => d.id),
      { totalCount: true },
    );
  });
  app.patch<{ Params: { name: string } }>(`${v1}/groups/:name/devices`, async (request) => {
    const name = checkGroupName(request.params.name);
    if (!Array.isArray(request.body))
      throw badRequest('failed to decode request body: expected an array of device IDs');
    let matched = 0;
    let updated = 0;
    for (const id of request.body as unknown[]) {
      const inv = ctx.store.state.inventory[String(id)];
      if (!inv) continue;
      matched += 1;
      if (groupOf(inv) !== name) {
        setGroup(inv, name);
        updated += 1;
      }
    }
    return { updated_count: updated, matched_count: matched };
  });

  app.post(`${v2}/filters/search`, async (request, reply) => {
    const body = request.body === undefined ? {} : objectBody(request.body);
    const page = readPage({ page: body.page, per_page: body.per_page });
    const filters: FilterPredicate[] = parseFilters(body.filters);
    const ids = Array.isArray(body.device_ids) ? body.device_ids.map(String) : undefined;
    const text = typeof body.text === 'string' && body.text !== '' ? body.text.toLowerCase() : undefined;
    let items = all().filter(
      (d) =>
        (ids === undefined || ids.includes(d.id)) &&
        filters.every((f) => matchesFilter(d, f)) &&
        (text === undefined ||
          Object.values(d.attributes).some((a) => JSON.stringify(a.value).toLowerCase().includes(text))),
    );
    const sort = Array.isArray(body.sort)
      ? (body.sort as { scope: string; attribute: string; order: string }[])
      : [];
    for (const s of sort) {
      if (
        !SCOPES.includes(s?.scope) ||
        typeof s.attribute !== 'string' ||
        (s.order !== 'asc' && s.order !== 'desc')
      ) {
        throw badRequest('sort: invalid sort criteria');
      }
    }
    items = sortBy(items, sort);
    const select = Array.isArray(body.attributes)
      ? (body.attributes as { scope: string; attribute: string }[])
      : undefined;
    return paginate(request, reply, items, { totalCount: true, page }).map((d) => renderInventory(d, select));
  });

  app.get(`${v2}/filters/attributes`, async () => {
    const counts = new Map<string, { name: string; scope: string; count: number }>();
    for (const d of all()) {
      for (const a of Object.values(d.attributes)) {
        const key = `${a.scope}/${a.name}`;
        const entry = counts.get(key) ?? { name: a.name, scope: a.scope, count: 0 };
        entry.count += 1;
        counts.set(key, entry);
      }
    }
    return [...counts.values()].sort((a, b) => b.count - a.count || compareValues(a.name, b.name));
  });
}
