import { readFileSync } from 'node:fs';
import type { CloudIotSchemas } from '@otakit/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CREDENTIAL_FORMATS } from '../src/iot-core/keys.js';
import {
  DEVICE,
  type EnumDef,
  GATEWAY_AUTH_METHOD,
  GATEWAY_TYPE,
  LOG_LEVEL,
  type MessageDef,
  MODIFY_CONFIG_REQUEST,
  PUBLIC_KEY_FORMAT,
  SEND_COMMAND_REQUEST,
} from '../src/iot-core/proto3-json.js';
import type { PublicKeyFormat } from '../src/iot-core/v1-types.js';

const IOT_CORE_SPECS = new URL('../../../../shared/specs/iot-core/', import.meta.url);
const proto = readFileSync(new URL('resources.proto', IOT_CORE_SPECS), 'utf8');
const discovery = JSON.parse(readFileSync(new URL('cloudiot-v1-discovery.json', IOT_CORE_SPECS), 'utf8')) as {
  schemas: Record<string, { properties: Record<string, unknown> }>;
};

/** An enum of resources.proto as names by number. */
function protoEnum(name: string): Record<number, string> {
  const body = new RegExp(`^enum ${name} \\{([^}]*)\\}`, 'm').exec(proto)?.[1];
  if (body === undefined) throw new Error(`enum ${name} is not in resources.proto`);
  const out: Record<number, string> = {};
  for (const [, value, n] of body.matchAll(/^\s+([A-Z0-9_]+) = (\d+);/gm)) out[Number(n)] = value as string;
  return out;
}

describe('the sandbox IoT Core v1 definitions', () => {
  it.each<[string, EnumDef]>([
    ['PublicKeyFormat', PUBLIC_KEY_FORMAT],
    ['LogLevel', LOG_LEVEL],
    ['GatewayType', GATEWAY_TYPE],
    ['GatewayAuthMethod', GATEWAY_AUTH_METHOD],
  ])('numbers the %s names as resources.proto does', (name, def) => {
    expect(def).toEqual(protoEnum(name));
  });

  it.each<[string, MessageDef]>([
    ['Device', DEVICE],
    ['ModifyCloudToDeviceConfigRequest', MODIFY_CONFIG_REQUEST],
    ['SendCommandToDeviceRequest', SEND_COMMAND_REQUEST],
  ])('reads %s with exactly the discovery fields, each under its proto name', (schema, def) => {
    expect(Object.keys(def).sort()).toEqual(Object.keys(discovery.schemas[schema]?.properties ?? {}).sort());
    for (const [json, field] of Object.entries(def)) {
      expect(field.proto).toBe(json.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    }
  });

  it('accepts every credential format but the unspecified one', () => {
    expect([...CREDENTIAL_FORMATS].sort()).toEqual(
      Object.values(PUBLIC_KEY_FORMAT)
        .filter((f) => f !== 'UNSPECIFIED_PUBLIC_KEY_FORMAT')
        .sort(),
    );
    expectTypeOf<(typeof CREDENTIAL_FORMATS)[number]>().toEqualTypeOf<
      Exclude<PublicKeyFormat, 'UNSPECIFIED_PUBLIC_KEY_FORMAT'>
    >();
    expectTypeOf<PublicKeyFormat>().toEqualTypeOf<
      NonNullable<CloudIotSchemas['PublicKeyCredential']['format']>
    >();
  });
});
