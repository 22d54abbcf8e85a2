import type { CloudIotSchemas } from '@otakit/core';
import { describe, expectTypeOf, it } from 'vitest';
import type {
  Device,
  DeviceConfig,
  DeviceCredential,
  DeviceField,
  DeviceState,
  GatewayConfig,
  ListDevicesResponse,
  LogLevel,
  PublicKeyCredential,
  PublicKeyFormat,
  RpcStatusBody,
} from '../src/index.js';

type S = CloudIotSchemas;
/** `last_heartbeat_time` -> `lastHeartbeatTime`. */
type Camel<T extends string> = T extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : T;

// Type-level tests: `tsc -b` (pnpm typecheck) fails when one stops holding.
describe('the adapter resource types follow the generated cloudiot:v1 types', () => {
  it('have the enum names of the discovery document, exactly', () => {
    expectTypeOf<PublicKeyFormat>().toEqualTypeOf<
      'UNSPECIFIED_PUBLIC_KEY_FORMAT' | 'RSA_PEM' | 'RSA_X509_PEM' | 'ES256_PEM' | 'ES256_X509_PEM'
    >();
    expectTypeOf<PublicKeyFormat>().toEqualTypeOf<NonNullable<S['PublicKeyCredential']['format']>>();
    expectTypeOf<LogLevel>().toEqualTypeOf<NonNullable<S['Device']['logLevel']>>();
  });

  it('are the generated shapes, with Device.id required (never looser than the contract)', () => {
    expectTypeOf<PublicKeyCredential>().toEqualTypeOf<S['PublicKeyCredential']>();
    expectTypeOf<DeviceCredential>().toEqualTypeOf<S['DeviceCredential']>();
    expectTypeOf<DeviceConfig>().toEqualTypeOf<S['DeviceConfig']>();
    expectTypeOf<DeviceState>().toEqualTypeOf<S['DeviceState']>();
    expectTypeOf<GatewayConfig>().toEqualTypeOf<S['GatewayConfig']>();
    expectTypeOf<RpcStatusBody>().toEqualTypeOf<S['Status']>();
    expectTypeOf<Omit<Device, 'id'>>().toEqualTypeOf<Omit<S['Device'], 'id'>>();
    expectTypeOf<Device['id']>().toEqualTypeOf<string>();
    expectTypeOf<Device>().toExtend<S['Device']>();
    expectTypeOf<Device['credentials']>().toEqualTypeOf<DeviceCredential[] | undefined>();
    expectTypeOf<ListDevicesResponse['devices']>().toEqualTypeOf<Device[] | undefined>();
    expectTypeOf<ListDevicesResponse>().toExtend<S['ListDevicesResponse']>();
  });

  it('name in DeviceField every Device field of the discovery document, and nothing else', () => {
    expectTypeOf<Camel<DeviceField>>().toEqualTypeOf<keyof S['Device']>();
  });
});
