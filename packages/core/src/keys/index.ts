/**
 * Device keys and Mender request signatures: load, convert, generate and store keys; sign and
 * verify `X-MEN-Signature` values.
 *
 * @module
 */

export { KeyError, type KeyErrorCode } from './errors.js';
export {
  type LoadedDeviceKey,
  loadOrCreateDeviceKey,
  readPrivateKeyFile,
  type WritePrivateKeyFileOptions,
  writePrivateKeyFile,
} from './file.js';
export {
  DEFAULT_DEVICE_KEY_TYPE,
  DEFAULT_RSA_BITS,
  type DeviceKey,
  type DeviceKeyType,
  type GenerateDeviceKeyOptions,
  generateDeviceKey,
  toDeviceKey,
  toPrivateKeyPem,
} from './generate.js';
export {
  decodeJwt,
  type JwtAlgorithm,
  type JwtClaims,
  JwtError,
  type JwtErrorCode,
  type JwtHeader,
  jwtAlgorithmFor,
  type SignJwtOptions,
  signJwt,
  type VerifyJwtOptions,
  verifyJwt,
} from './jwt.js';
export { type KeyInput, loadPrivateKey, loadPublicKey } from './load.js';
export { signMenderRequest, verifyMenderRequest } from './signature.js';
export { publicKeysEqual, toSpkiPem } from './spki.js';
export { type KeyType, keyType, rsaBits } from './type.js';
