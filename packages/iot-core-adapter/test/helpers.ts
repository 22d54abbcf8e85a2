import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Ajv } from 'ajv';

/** The IoT Core API definitions (../shared beside the repository). */
export const IOT_CORE_SPECS = new URL('../../../../shared/specs/iot-core/', import.meta.url);

interface DiscoverySchema {
  id: string;
  type?: string;
  properties?: Record<string, DiscoveryProperty>;
}
interface DiscoveryProperty {
  type?: string;
  $ref?: string;
  enum?: string[];
  format?: string;
  items?: DiscoveryProperty;
  additionalProperties?: DiscoveryProperty;
  properties?: Record<string, DiscoveryProperty>;
}

/** The discovery document's schemas. */
export const discovery = JSON.parse(
  readFileSync(new URL('cloudiot-v1-discovery.json', IOT_CORE_SPECS), 'utf8'),
) as {
  schemas: Record<string, DiscoverySchema>;
  resources: unknown;
};

function toJsonSchema(p: DiscoveryProperty): Record<string, unknown> {
  if (p.$ref) return { $ref: `#/definitions/${p.$ref}` };
  const out: Record<string, unknown> = {};
  if (p.type === 'any') return {};
  if (p.type) out.type = p.type;
  if (p.enum) out.enum = p.enum;
  if (p.format === 'int64' || p.format === 'uint64') out.pattern = '^-?[0-9]+$';
  if (p.format === 'byte') out.pattern = '^[A-Za-z0-9+/_-]*=*$';
  if (p.format === 'google-datetime') out.format = 'date-time';
  if (p.items) out.items = toJsonSchema(p.items);
  if (p.additionalProperties) out.additionalProperties = toJsonSchema(p.additionalProperties);
  if (p.properties) {
    out.properties = Object.fromEntries(Object.entries(p.properties).map(([k, v]) => [k, toJsonSchema(v)]));
    out.additionalProperties = false;
  }
  return out;
}

const definitions = Object.fromEntries(
  Object.entries(discovery.schemas).map(([name, s]) => [name, toJsonSchema({ ...s, type: 'object' })]),
);
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);

/** Validates a value against a discovery schema (`Device`, `ListDevicesResponse`…): unknown fields fail. */
export function validateAgainst(schema: string, value: unknown): string[] {
  const validate = ajv.compile({ $ref: `#/definitions/${schema}`, definitions });
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** One exchange seen by {@link startRecordingProxy}. */
export interface Exchange {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
  responseBody: string;
}

/** A node:http proxy in front of `target` that records every request and response body. */
export async function startRecordingProxy(
  target: string,
): Promise<{ url: string; exchanges: Exchange[]; close(): Promise<void> }> {
  const exchanges: Exchange[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (
        typeof v === 'string' &&
        !['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(k)
      )
        headers[k] = v;
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method ?? 'GET',
      headers,
      ...(body === '' ? {} : { body }),
    });
    const responseBody = await upstream.text();
    exchanges.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
      status: upstream.status,
      responseBody,
    });
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(responseBody);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface DiscoveryMethod {
  id: string;
  httpMethod: string;
  flatPath: string;
  parameters?: Record<string, { location: string }>;
}

/** Every method of the discovery document: its verb, its `flatPath` as a regex, its query parameters. */
export function discoveryMethods(): Array<{
  id: string;
  httpMethod: string;
  pattern: RegExp;
  parameters: string[];
}> {
  const doc = discovery as unknown as {
    parameters: Record<string, unknown>;
    resources: Record<string, unknown>;
  };
  const global = Object.keys(doc.parameters ?? {});
  const out: Array<{ id: string; httpMethod: string; pattern: RegExp; parameters: string[] }> = [];
  const walk = (resources: Record<string, unknown>) => {
    for (const r of Object.values(resources) as Array<{
      methods?: Record<string, DiscoveryMethod>;
      resources?: Record<string, unknown>;
    }>) {
      for (const m of Object.values(r.methods ?? {})) {
        const source = m.flatPath
          .split(/(\{[^}]+\})/)
          .map((part) => (part.startsWith('{') ? '[^/:]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
          .join('');
        out.push({
          id: m.id,
          httpMethod: m.httpMethod,
          pattern: new RegExp(`^${source}$`),
          parameters: [
            ...global,
            ...Object.entries(m.parameters ?? {})
              .filter(([, p]) => p.location === 'query')
              .map(([name]) => name),
          ],
        });
      }
      if (r.resources) walk(r.resources);
    }
  };
  walk(doc.resources);
  return out;
}
