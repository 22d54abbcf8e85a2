/**
 * The `cloudiot:v1` types the sandbox serves, from the ones `@otakit/core` generates from Google's
 * discovery document (the sandbox may not import the adapter, and must not keep its own copies).
 * Types only.
 * @internal
 */
import type { CloudIotSchemas } from '@otakit/core';

/** Every `cloudiot:v1` schema by its discovery name. @internal */
export type V1Schemas = CloudIotSchemas;

/** `PublicKeyFormat` enum names. @internal */
export type PublicKeyFormat = NonNullable<V1Schemas['PublicKeyCredential']['format']>;
/** `LogLevel` enum names. @internal */
export type LogLevel = NonNullable<V1Schemas['Device']['logLevel']>;
/** `GatewayType` enum names. @internal */
export type GatewayType = NonNullable<V1Schemas['GatewayConfig']['gatewayType']>;
/** `GatewayAuthMethod` enum names. @internal */
export type GatewayAuthMethod = NonNullable<V1Schemas['GatewayConfig']['gatewayAuthMethod']>;
