import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  CloudIotOperationId,
  CloudIotOperations,
  CloudIotQuery,
  CloudIotRequestBody,
  CloudIotResponseBody,
  CloudIotSchemas,
} from '../../src/index.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/generate-iot-core.mjs', import.meta.url));
const GENERATED = new URL('../../src/generated/cloudiot-v1.ts', import.meta.url);
const SPECS = fileURLToPath(new URL('../../../../../shared/specs/', import.meta.url));
const DISCOVERY = join(SPECS, 'iot-core', 'cloudiot-v1-discovery.json');

function check(specsDir?: string) {
  const env = { ...process.env };
  if (specsDir) env.OTAKIT_SPECS_DIR = specsDir;
  return spawnSync(process.execPath, [SCRIPT, '--check'], { env, encoding: 'utf8' });
}

interface DiscoveryResource {
  methods?: Record<string, { id: string }>;
  resources?: Record<string, DiscoveryResource>;
}

function methodIds(resources: Record<string, DiscoveryResource> | undefined): string[] {
  return Object.values(resources ?? {}).flatMap((r) => [
    ...Object.values(r.methods ?? {}).map((m) => m.id),
    ...methodIds(r.resources),
  ]);
}

describe('the generated Cloud IoT Core v1 types', () => {
  it('are what the generator makes from the discovery document today (check:generated passes)', () => {
    const run = check(process.env.OTAKIT_SPECS_DIR);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('is up to date');
  });

  it('are reported stale when the discovery document changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otakit-cloudiot-'));
    try {
      mkdirSync(join(dir, 'iot-core'));
      const doc = JSON.parse(readFileSync(DISCOVERY, 'utf8'));
      doc.schemas.PublicKeyCredential.properties.format.enum.push('ED25519_PEM');
      doc.schemas.PublicKeyCredential.properties.format.enumDescriptions.push('An Ed25519 key.');
      writeFileSync(join(dir, 'iot-core', 'cloudiot-v1-discovery.json'), JSON.stringify(doc));
      const stale = check(dir);
      expect(stale.status).toBe(1);
      expect(stale.stderr).toContain('src/generated/cloudiot-v1.ts is stale');
      // The same document, unchanged, is up to date: only the edit made it stale.
      copyFileSync(DISCOVERY, join(dir, 'iot-core', 'cloudiot-v1-discovery.json'));
      expect(check(dir).status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('have one schema per discovery schema and one operation per discovery method', () => {
    const doc = JSON.parse(readFileSync(DISCOVERY, 'utf8')) as {
      schemas: Record<string, unknown>;
      resources: Record<string, DiscoveryResource>;
    };
    const text = readFileSync(GENERATED, 'utf8');
    const schemas = text.slice(
      text.indexOf('export interface components'),
      text.indexOf('export type $defs'),
    );
    const operations = text.slice(text.indexOf('export interface operations'));
    const ids = methodIds(doc.resources);
    expect(ids).toHaveLength(23);
    for (const name of Object.keys(doc.schemas)) expect(schemas).toMatch(new RegExp(`^ {8}${name}: `, 'm'));
    for (const id of ids) expect(operations).toContain(`    "${id}": {\n`);
    expect([...operations.matchAll(/^ {4}"cloudiot\.[^"]+": \{$/gm)]).toHaveLength(ids.length);
  });

  // The two tests below are type-level: `tsc -b` (pnpm typecheck) fails when a fact stops holding.
  it('keep the JSON mapping: int64, uint64 and bytes are strings, references are the named schemas', () => {
    type S = CloudIotSchemas;
    expectTypeOf<S['Device']['credentials']>().toEqualTypeOf<S['DeviceCredential'][] | undefined>();
    expectTypeOf<S['Device']['config']>().toEqualTypeOf<S['DeviceConfig'] | undefined>();
    expectTypeOf<S['Device']['numId']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<S['Device']['metadata']>().toEqualTypeOf<{ [key: string]: string } | undefined>();
    expectTypeOf<S['DeviceConfig']['version']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<S['DeviceConfig']['binaryData']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<S['Status']['code']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<S['Status']['details']>().toEqualTypeOf<{ [key: string]: unknown }[] | undefined>();
    expectTypeOf<NonNullable<S['PublicKeyCredential']['format']>>().toEqualTypeOf<
      'UNSPECIFIED_PUBLIC_KEY_FORMAT' | 'RSA_PEM' | 'RSA_X509_PEM' | 'ES256_PEM' | 'ES256_X509_PEM'
    >();
    expectTypeOf<keyof S['Device']>().toEqualTypeOf<
      | 'blocked'
      | 'config'
      | 'credentials'
      | 'gatewayConfig'
      | 'id'
      | 'lastConfigAckTime'
      | 'lastConfigSendTime'
      | 'lastErrorStatus'
      | 'lastErrorTime'
      | 'lastEventTime'
      | 'lastHeartbeatTime'
      | 'lastStateTime'
      | 'logLevel'
      | 'metadata'
      | 'name'
      | 'numId'
      | 'state'
    >();
  });

  it('give each operation its request body, response body and parameters', () => {
    type Op = CloudIotOperationId;
    const list = 'cloudiot.projects.locations.registries.devices.list' satisfies Op;
    const patch = 'cloudiot.projects.locations.registries.devices.patch' satisfies Op;
    const modify = 'cloudiot.projects.locations.registries.devices.modifyCloudToDeviceConfig' satisfies Op;
    expectTypeOf<CloudIotResponseBody<typeof list>>().toEqualTypeOf<CloudIotSchemas['ListDevicesResponse']>();
    expectTypeOf<CloudIotRequestBody<typeof list>>().toBeNever();
    expectTypeOf<CloudIotRequestBody<typeof patch>>().toEqualTypeOf<CloudIotSchemas['Device']>();
    expectTypeOf<CloudIotResponseBody<typeof patch>>().toEqualTypeOf<CloudIotSchemas['Device']>();
    expectTypeOf<CloudIotRequestBody<typeof modify>>().toEqualTypeOf<
      CloudIotSchemas['ModifyCloudToDeviceConfigRequest']
    >();
    expectTypeOf<CloudIotResponseBody<typeof modify>>().toEqualTypeOf<CloudIotSchemas['DeviceConfig']>();
    expectTypeOf<CloudIotQuery<typeof list>['deviceNumIds']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<CloudIotQuery<typeof list>['pageSize']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<CloudIotQuery<typeof patch>['updateMask']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<CloudIotOperations[typeof patch]['parameters']['path']>().toEqualTypeOf<{
      devicesId: string;
      locationsId: string;
      projectsId: string;
      registriesId: string;
    }>();
  });
});
