/**
 * The Cloud IoT Core v1 REST types (`cloudiot:v1`), generated from Google's discovery document
 * (`../shared/specs/iot-core/cloudiot-v1-discovery.json`, revision 20230328) into
 * `src/generated/cloudiot-v1.ts` by `scripts/generate-iot-core.mjs` with openapi-typescript. They
 * are the JSON mapping as the wire has it: int64, uint64 and bytes are strings, times are RFC 3339
 * strings. Types only: nothing here exists at runtime.
 *
 * They live in core because both the IoT Core adapter (which sends these shapes) and the sandbox
 * (which serves them) must agree on one definition, and neither may import the other.
 *
 * @module
 */
import type { components, operations, paths } from './generated/cloudiot-v1.js';

/**
 * Every schema of `cloudiot:v1` by its discovery name (`Device`, `DeviceCredential`,
 * `ListDevicesResponse`, `Status`…).
 *
 * @example
 * ```ts
 * import type { CloudIotSchemas } from '@otakit/core';
 * type Device = CloudIotSchemas['Device'];
 * ```
 */
export type CloudIotSchemas = components['schemas'];

/**
 * Every REST method of `cloudiot:v1` by its discovery id
 * (`cloudiot.projects.locations.registries.devices.list`…): path and query parameters, request
 * body, response body.
 */
export type CloudIotOperations = operations;

/** The `cloudiot:v1` REST paths (discovery `flatPath`s, with a leading `/`) and their methods. */
export type CloudIotPaths = paths;

/** The discovery id of a `cloudiot:v1` method. */
export type CloudIotOperationId = keyof operations;

/**
 * The JSON request body of a method (`Device` for `…devices.patch`); `never` for methods without
 * a body.
 */
export type CloudIotRequestBody<Id extends CloudIotOperationId> = operations[Id] extends {
  requestBody: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;

/** The JSON body of a method's successful response (`ListDevicesResponse` for `…devices.list`). */
export type CloudIotResponseBody<Id extends CloudIotOperationId> = operations[Id]['responses'] extends {
  200: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;

/** The query parameters of a method (`fieldMask`, `pageSize`… for `…devices.list`). */
export type CloudIotQuery<Id extends CloudIotOperationId> = NonNullable<
  operations[Id]['parameters']['query']
>;
