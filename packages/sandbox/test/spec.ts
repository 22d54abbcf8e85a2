import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { expect } from 'vitest';
import { parse } from 'yaml';
import { type Res, SPECS } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is walked dynamically
type Json = any;

const doc: Json = parse(readFileSync(fileURLToPath(new URL('mender-all-bundled.yml', SPECS)), 'utf8'));
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
// ajv-formats is CommonJS: its default export arrives wrapped under NodeNext typing.
const addFormats = ((formatsPlugin as unknown as { default?: typeof formatsPlugin }).default ??
  formatsPlugin) as unknown as (a: Ajv) => void;
addFormats(ajv);
// OpenAPI's "url" format (DeploymentInstructionsArtifactSource.uri) is not a JSON Schema format.
ajv.addFormat('url', (s: string) => URL.canParse(s));
ajv.addSchema(doc, 'spec');

const templates = Object.keys(doc.paths as Record<string, unknown>).map((t) => ({
  template: t,
  params: (t.match(/\{/g) ?? []).length,
  re: new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
}));

/** The spec path template a concrete path belongs to (the most specific one). */
export function templateOf(method: string, path: string): string | undefined {
  const p = path.split('?')[0] ?? path;
  const matches = templates
    .filter((t) => t.re.test(p) && doc.paths[t.template][method.toLowerCase()] !== undefined)
    .sort((a, b) => a.params - b.params);
  return matches[0]?.template;
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map<string, ValidateFunction>();

function deref(obj: Json): { value: Json; ptr?: string } {
  if (obj && typeof obj.$ref === 'string') {
    const ref = obj.$ref as string;
    const parts = ref.replace(/^#\//, '').split('/');
    let v = doc;
    for (const part of parts) v = v[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    return { value: v, ptr: ref.slice(1) };
  }
  return { value: obj };
}

/** Every response checked, as `METHOD template status`, for the coverage test. */
export const checked = new Set<string>();

/**
 * Asserts that every route in `routes` (`METHOD template`) was checked with at least one success
 * (2xx) and at least one error (4xx/5xx) response: a contract test that never saw a route fail (or
 * succeed) has not tested that half of its documented behaviour.
 */
export function expectRoutesCovered(routes: readonly string[]): void {
  for (const r of routes) {
    const seen = [...checked].filter((k) => k.startsWith(`${r} `)).map((k) => Number(k.split(' ').at(-1)));
    expect(
      seen.some((s) => s < 300),
      `${r} success`,
    ).toBe(true);
    expect(
      seen.some((s) => s >= 400),
      `${r} error`,
    ).toBe(true);
  }
}

/** Documented exceptions: where the sandbox follows the real server instead of the spec. */
export interface Deviation {
  /** Why the sandbox deviates (from research/mender-api.md). */
  reason: string;
  /** Skip the body schema check (the body itself is asserted by the caller). */
  skipBody?: boolean;
}

/**
 * Asserts a response against the spec: its status is documented for the operation and its body
 * matches the documented schema (JSON bodies) or is empty (responses without content).
 */
export function expectSpec(res: Res, method: string, path: string, deviation?: Deviation): void {
  const template = templateOf(method, path);
  expect(template, `no spec path for ${method} ${path}`).toBeDefined();
  const op = doc.paths[template!][method.toLowerCase()];
  const key = `${method.toUpperCase()} ${template} ${res.status}`;
  checked.add(key);
  const responseRaw = op.responses[String(res.status)];
  if (!responseRaw) {
    expect(deviation, `${key} is not in the spec (body ${res.text})`).toBeDefined();
    return;
  }
  const { value: response, ptr: responsePtr } = deref(responseRaw);
  const content = response.content as Record<string, { schema?: Json }> | undefined;
  const mediaTypes = Object.keys(content ?? {});
  if (mediaTypes.length === 0 || !mediaTypes.some((m) => content?.[m]?.schema)) {
    if (!deviation?.skipBody) expect(res.text, `${key} should have no body`).toBe('');
    return;
  }
  if (deviation?.skipBody) return;
  const mediaType = mediaTypes.find((m) => m.includes('json')) ?? mediaTypes[0]!;
  const base =
    responsePtr ?? `/${pointer('paths', template!, method.toLowerCase(), 'responses', String(res.status))}`;
  const schemaPtr = `${base}/${pointer('content', mediaType, 'schema')}`;
  const validate = validators.get(schemaPtr) ?? ajv.compile({ $ref: `spec#${schemaPtr}` });
  validators.set(schemaPtr, validate);
  const contentType = String(res.headers['content-type'] ?? '');
  let body: unknown;
  if (mediaType.includes('json') && contentType.includes('json')) body = res.json();
  else body = res.text;
  const ok = validate(body);
  expect(ok, `${key}: ${ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`).toBe(true);
}

/** Statuses the spec documents for an operation. */
export function documentedStatuses(method: string, template: string): string[] {
  return Object.keys(doc.paths[template]?.[method.toLowerCase()]?.responses ?? {});
}
