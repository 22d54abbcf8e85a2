import { readBytes } from './proto3-json.js';
import { RpcError } from './status.js';
import type { RegistryRecord } from './store.js';

/** A parsed `/v1/...` device path. @internal */
export interface V1Target {
  registry: RegistryRecord;
  deviceSegment: string | undefined;
  verb: string | undefined;
  sub: string | undefined;
}

/** The query of a `/v1/...` request, as fastify parsed it. @internal */
export type V1Query = Record<string, unknown>;

/** A JSON request body as an object (an absent body as `{}`); anything else is `INVALID_ARGUMENT`. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new RpcError('INVALID_ARGUMENT', 'Invalid JSON payload received.');
  }
  return body as Record<string, unknown>;
}

/** A proto3 `bytes` field (base64) of a request body; an absent one as no bytes. */
export function decodeBytes(value: unknown, field: string): Buffer {
  if (value === undefined || value === null) return Buffer.alloc(0);
  return readBytes(value, field);
}

/** A non-negative int32 query parameter (`pageSize`, `numStates`, `numVersions`); 0 when absent. */
export function int32Param(value: unknown, name: string): number {
  const raw = first(value);
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!/^-?\d+$/.test(String(raw)) || !Number.isSafeInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    throw new RpcError('INVALID_ARGUMENT', `Invalid value at '${name}' (TYPE_INT32), ${JSON.stringify(raw)}`);
  }
  return n;
}

/** The first value of a query parameter given once or repeated. */
export function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** A repeated or comma-separated query parameter as its values. */
export function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).filter(Boolean);
}
