/**
 * The resource types of the Mender management APIs, named for use. They are aliases of the types
 * generated from Mender's OpenAPI specs (see `src/generated/`).
 *
 * @module
 */
import type * as DeploymentsV1 from './generated/deployments-v1.js';
import type * as DeploymentsV2 from './generated/deployments-v2.js';
import type * as DeviceauthV2 from './generated/deviceauth-v2.js';
import type * as DeviceconfigV1 from './generated/deviceconfig-v1.js';
import type * as InventoryV1 from './generated/inventory-v1.js';
import type * as InventoryV2 from './generated/inventory-v2.js';

type DevauthSchemas = DeviceauthV2.components['schemas'];
type DeploymentsSchemas = DeploymentsV1.components['schemas'];
type InventorySchemas = InventoryV2.components['schemas'];

/** A device as deviceauth sees it: identity, admission status and auth sets. */
export type Device = DevauthSchemas['Device'];
/** One identity + public key pair of a device, with its own admission status. */
export type AuthSet = DevauthSchemas['AuthSet'];
/** A device's identity attributes (e.g. `{ mac: '...' }`). */
export type IdentityData = DevauthSchemas['IdentityData'];
/** The admission status of a device. */
export type DeviceStatus = 'pending' | 'accepted' | 'rejected' | 'preauthorized' | 'noauth';
/** The admission status an auth set can be set to. */
export type AuthSetStatus = DevauthSchemas['Status']['status'];

/** A device's inventory: its attributes in all scopes. */
export type InventoryDevice = InventorySchemas['DeviceInventoryResponse'];
/** One inventory attribute. */
export type InventoryAttribute = InventorySchemas['AttributeResponse'];
/** The scope of an inventory attribute. */
export type AttributeScope = InventorySchemas['Scope'];
/** A predicate of an inventory search. */
export type FilterPredicate = InventorySchemas['FilterPredicate'];
/** A sort criterion of an inventory search. */
export type SortCriteria = InventorySchemas['SortCriteria'];
/** An attribute an inventory search should return. */
export type SelectAttribute = InventorySchemas['SelectAttribute'];
/** The body that assigns a device to a static group. */
export type GroupAssignment = InventoryV1.components['schemas']['Group'];

/** An uploaded artifact. */
export type Artifact = DeploymentsSchemas['ArtifactV1'];
/** A pre-signed link to download an artifact, valid until `expire`. */
export type ArtifactLink = DeploymentsSchemas['ArtifactLink'];
/** A release: the artifacts sharing one artifact name. */
export type Release = DeploymentsV2.components['schemas']['ReleaseV2'];

/** A deployment. */
export type Deployment = DeploymentsSchemas['DeploymentV1'];
/** The status of a deployment. */
export type DeploymentStatus = Deployment['status'];
/** How many devices of a deployment are in each state. */
export type DeploymentStatistics = DeploymentsSchemas['Statistics'];
/** A device of a deployment with its state in that deployment. */
export type DeploymentDevice = DeploymentsSchemas['DeviceWithImage'];
/** The state of a device in a deployment. */
export type DeploymentDeviceStatus = DeploymentsSchemas['DeviceStatus'];

/** A device's configuration as set by users (`configured`) and as reported by the device. */
export type DeviceConfiguration = DeviceconfigV1.components['schemas']['DeviceConfiguration'];
/** Configuration key/values (strings). */
export type ConfigurationValues = DeviceconfigV1.components['schemas']['ManagementAPIConfiguration'];
