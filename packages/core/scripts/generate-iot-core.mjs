#!/usr/bin/env node
// Generates the TypeScript types of the Cloud IoT Core v1 REST API from Google's discovery document
// (../shared/specs/iot-core/cloudiot-v1-discovery.json beside the repository root) into
// src/generated/cloudiot-v1.ts. A discovery document is not OpenAPI, so it is converted in memory
// first (toOpenApi below), then handed to openapi-typescript, the generator the Mender types use.
//
//   node scripts/generate-iot-core.mjs            writes src/generated/cloudiot-v1.ts
//   node scripts/generate-iot-core.mjs --check    fails if the committed file is stale
//
// OTAKIT_SPECS_DIR overrides the specs folder (the one holding iot-core/).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const pkgDir = resolve(import.meta.dirname, '..');
const repoRoot = resolve(pkgDir, '..', '..');
const specsDir = process.env.OTAKIT_SPECS_DIR ?? resolve(repoRoot, '..', 'shared', 'specs');
const SPEC = join(specsDir, 'iot-core', 'cloudiot-v1-discovery.json');
const OUT = join(pkgDir, 'src', 'generated', 'cloudiot-v1.ts');

/**
 * Converts one discovery schema (a property, an item, a map value or a top-level schema) to an
 * OpenAPI 3.0 schema object. The JSON mapping of proto3 is kept as the wire has it: int64, uint64
 * and bytes are strings, `google-datetime` is an RFC 3339 string, `any` is unknown.
 */
function toSchema(s) {
  if (s.$ref) {
    const ref = { $ref: `#/components/schemas/${s.$ref}` };
    // A $ref cannot carry siblings in OpenAPI 3.0: wrap it to keep the field's description.
    return s.description ? { allOf: [ref], description: s.description } : ref;
  }
  const out = {};
  if (s.description) out.description = describe(s);
  if (s.deprecated) out.deprecated = true;
  switch (s.type) {
    case 'any':
      return out;
    case 'integer':
    case 'number':
      out.type = s.type;
      if (s.format) out.format = s.format;
      break;
    case 'string':
      out.type = 'string';
      // int64/uint64/byte stay strings: the format is only a note (openapi-typescript keeps `string`).
      if (s.format === 'google-datetime') out.format = 'date-time';
      else if (s.format) out.format = s.format;
      if (s.enum) out.enum = s.enum;
      break;
    case 'boolean':
      out.type = 'boolean';
      break;
    case 'array':
      out.type = 'array';
      out.items = toSchema(s.items);
      break;
    case 'object':
    case undefined:
      out.type = 'object';
      if (s.properties) {
        out.properties = Object.fromEntries(
          Object.entries(s.properties).map(([name, p]) => [name, toSchema(p)]),
        );
      }
      if (s.additionalProperties) out.additionalProperties = toSchema(s.additionalProperties);
      break;
    default:
      throw new Error(`discovery type ${JSON.stringify(s.type)} is not handled`);
  }
  return out;
}

/** The description, with the meaning of each enum value appended when the document gives them. */
function describe(s) {
  if (!s.enum || !s.enumDescriptions) return s.description;
  const lines = s.enum.map((v, i) => `- \`${v}\`: ${s.enumDescriptions[i] ?? ''}`.trimEnd());
  return `${s.description}\n\n${lines.join('\n')}`;
}

/** A discovery method parameter as an OpenAPI parameter schema (`repeated` becomes an array). */
function paramSchema(p) {
  const one = toSchema({ ...p, description: undefined, repeated: undefined, location: undefined });
  return p.repeated ? { type: 'array', items: one } : one;
}

/**
 * Converts the `resources`/`methods` tree to OpenAPI `paths`, one operation per method, keyed by
 * `flatPath` (the form with one placeholder per segment: `v1/{+name}` would merge resources). The
 * operationId is the discovery method id (`cloudiot.projects.locations.registries.devices.list`).
 * The API-wide parameters (`alt`, `fields`, `key`…) are left out: no resource type depends on them.
 */
function toPaths(resources, paths = {}) {
  for (const resource of Object.values(resources ?? {})) {
    for (const m of Object.values(resource.methods ?? {})) {
      const path = `/${m.flatPath}`;
      const parameters = [...path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      for (const [name, p] of Object.entries(m.parameters ?? {})) {
        if (p.location !== 'query') continue;
        parameters.push({
          name,
          in: 'query',
          ...(p.required ? { required: true } : {}),
          ...(p.description ? { description: describe(p) } : {}),
          schema: paramSchema(p),
        });
      }
      const operation = {
        operationId: m.id,
        ...(m.description ? { description: m.description } : {}),
        parameters,
        ...(m.request
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: toSchema({ $ref: m.request.$ref }) } },
              },
            }
          : {}),
        responses: {
          200: {
            description: 'Successful response',
            ...(m.response
              ? { content: { 'application/json': { schema: toSchema({ $ref: m.response.$ref }) } } }
              : {}),
          },
        },
      };
      paths[path] ??= {};
      const verb = m.httpMethod.toLowerCase();
      if (paths[path][verb]) throw new Error(`two methods on ${m.httpMethod} ${path}`);
      paths[path][verb] = operation;
    }
    toPaths(resource.resources, paths);
  }
  return paths;
}

/** The discovery document as an OpenAPI 3.0 document. */
export function toOpenApi(discovery) {
  return {
    openapi: '3.0.3',
    info: { title: discovery.title, version: `${discovery.version} (revision ${discovery.revision})` },
    servers: [{ url: discovery.rootUrl }],
    paths: toPaths(discovery.resources),
    components: {
      schemas: Object.fromEntries(Object.entries(discovery.schemas).map(([name, s]) => [name, toSchema(s)])),
    },
  };
}

/** The generated module's text. */
export async function generate() {
  const discovery = JSON.parse(await readFile(SPEC, 'utf8'));
  const ast = await openapiTS(toOpenApi(discovery), { alphabetize: true, silent: true });
  return (
    `// Generated by packages/core/scripts/generate-iot-core.mjs from iot-core/cloudiot-v1-discovery.json\n` +
    `// (shared/specs, discovery revision ${discovery.revision}) with openapi-typescript.\n` +
    '// Do not edit: run `pnpm --filter @otakit/core generate`.\n\n' +
    astToString(ast)
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await generate();
  if (process.argv.includes('--check')) {
    const have = await readFile(OUT, 'utf8').catch(() => undefined);
    if (have !== text) {
      console.error('src/generated/cloudiot-v1.ts is stale: run `pnpm --filter @otakit/core generate`');
      process.exitCode = 1;
    } else {
      console.log('src/generated/cloudiot-v1.ts is up to date');
    }
  } else {
    await mkdir(join(pkgDir, 'src', 'generated'), { recursive: true });
    await writeFile(OUT, text);
    console.log(`wrote ${OUT}`);
  }
}
