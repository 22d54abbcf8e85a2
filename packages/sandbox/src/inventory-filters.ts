import { badRequest } from './errors.js';
import { compareValues } from './http.js';
import type { AttributeRecord, InventoryRecord } from './state.js';

/** Scopes an inventory attribute can live in. */
export const SCOPES = ['system', 'identity', 'inventory', 'monitor', 'tags'];

/** A filter predicate of `POST /api/management/v2/inventory/filters/search`. */
export interface FilterPredicate {
  scope: string;
  attribute: string;
  type: string;
  value: unknown;
}

const OPERATORS = ['$eq', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$ltne', '$ne', '$exists', '$regex'];

/** Validates a filter list from a request body; 400 on anything malformed. */
export function parseFilters(input: unknown): FilterPredicate[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) throw badRequest('filters: must be an array');
  return input.map((f, i) => {
    if (typeof f !== 'object' || f === null) throw badRequest(`filters[${i}]: must be an object`);
    const { scope, attribute, type, value } = f as Record<string, unknown>;
    if (typeof scope !== 'string' || !SCOPES.includes(scope))
      throw badRequest(`filters[${i}].scope: invalid scope`);
    if (typeof attribute !== 'string' || attribute === '')
      throw badRequest(`filters[${i}].attribute: cannot be blank`);
    if (typeof type !== 'string' || !OPERATORS.includes(type))
      throw badRequest(`filters[${i}].type: invalid filter type`);
    if (value === undefined) throw badRequest(`filters[${i}].value: cannot be blank`);
    if ((type === '$in' || type === '$nin') && !Array.isArray(value))
      throw badRequest(`filters[${i}].value: must be an array`);
    if (type === '$exists' && typeof value !== 'boolean')
      throw badRequest(`filters[${i}].value: must be a boolean`);
    if (type === '$regex') {
      if (typeof value !== 'string') throw badRequest(`filters[${i}].value: must be a string`);
      toRegExp(value);
    }
    return { scope, attribute, type, value };
  });
}

function toRegExp(pattern: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  try {
    if (m) return new RegExp(m[1] ?? '', (m[2] ?? '').replace(/[^imsu]/g, ''));
    return new RegExp(pattern);
  } catch {
    throw badRequest(`invalid regular expression: ${pattern}`);
  }
}

const values = (attr: AttributeRecord | undefined): unknown[] =>
  attr === undefined ? [] : Array.isArray(attr.value) ? attr.value : [attr.value];

/** Whether a device's inventory satisfies one predicate (array attributes match on any element). */
export function matchesFilter(device: InventoryRecord, f: FilterPredicate): boolean {
  const attr = device.attributes[`${f.scope}/${f.attribute}`];
  const vals = values(attr);
  switch (f.type) {
    case '$exists':
      return (attr !== undefined) === f.value;
    case '$eq':
      return vals.some((v) => v === f.value);
    case '$ne':
      return !vals.some((v) => v === f.value);
    case '$in':
      return vals.some((v) => (f.value as unknown[]).includes(v));
    case '$nin':
      return !vals.some((v) => (f.value as unknown[]).includes(v));
    case '$gt':
      return vals.some((v) => typeof v === typeof f.value && compareValues(v, f.value) > 0);
    case '$gte':
      return vals.some((v) => typeof v === typeof f.value && compareValues(v, f.value) >= 0);
    case '$lt':
      return vals.some((v) => typeof v === typeof f.value && compareValues(v, f.value) < 0);
    case '$lte':
      return vals.some((v) => typeof v === typeof f.value && compareValues(v, f.value) <= 0);
    case '$ltne':
      return (
        attr === undefined || vals.some((v) => typeof v === typeof f.value && compareValues(v, f.value) < 0)
      );
    case '$regex': {
      const re = toRegExp(f.value as string);
      return vals.some((v) => typeof v === 'string' && re.test(v));
    }
    default:
      return false;
  }
}

/**
 * Parses v1 list query filters: `attr=value`, `attr=op:value`, `scope/attr=op:value` (ops eq, ne,
 * exists, in, nin, gt, gte, lt, lte, regex; default scope `inventory`).
 */
export function parseQueryFilters(query: Record<string, unknown>, reserved: string[]): FilterPredicate[] {
  const out: FilterPredicate[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (reserved.includes(key)) continue;
    const slash = key.indexOf('/');
    const scope = slash > 0 ? key.slice(0, slash) : 'inventory';
    const attribute = slash > 0 ? key.slice(slash + 1) : key;
    for (const item of Array.isArray(raw) ? raw : [raw]) {
      const text = String(item);
      const m = /^(eq|ne|exists|in|nin|gt|gte|lt|lte|regex):(.*)$/s.exec(text);
      const op = m?.[1] ?? 'eq';
      const operand = m ? (m[2] ?? '') : text;
      let value: unknown = operand;
      const numeric = operand !== '' && Number.isFinite(Number(operand));
      if ((op === 'eq' || op === 'ne') && numeric) {
        // Query values are text; match numeric attributes too, like the server's float fallback.
        out.push(
          ...parseFilters([
            { scope, attribute, type: op === 'eq' ? '$in' : '$nin', value: [operand, Number(operand)] },
          ]),
        );
        continue;
      }
      if (op === 'exists') value = operand !== 'false';
      else if (op === 'in' || op === 'nin') value = operand.split(',');
      else if (
        ['gt', 'gte', 'lt', 'lte'].includes(op) &&
        operand !== '' &&
        Number.isFinite(Number(operand))
      ) {
        value = Number(operand);
      }
      out.push(...parseFilters([{ scope, attribute, type: `$${op}`, value }]));
    }
  }
  return out;
}

/** Renders an inventory record as the API's device object. */
export function renderInventory(
  device: InventoryRecord,
  select?: { scope: string; attribute: string }[],
): Record<string, unknown> {
  let attrs = Object.values(device.attributes);
  if (select && select.length > 0) {
    attrs = attrs.filter((a) => select.some((s) => s.scope === a.scope && s.attribute === a.name));
  }
  return {
    id: device.id,
    updated_ts: device.updated_ts,
    attributes: attrs.map((a) => ({
      name: a.name,
      value: a.value,
      scope: a.scope,
      ...(a.description !== undefined ? { description: a.description } : {}),
      ...(a.timestamp !== undefined ? { timestamp: a.timestamp } : {}),
    })),
  };
}
