import type { KeyObject } from 'node:crypto';
import { keyType, loadPrivateKey, signJwt } from '@otakit/core';
import { IotCoreError } from './errors.js';

/** The JWT algorithms Cloud IoT Core accepts. */
export type IotCoreJwtAlgorithm = 'RS256' | 'ES256';

/** Longest JWT lifetime IoT Core accepts: 24 hours. */
export const MAX_IOT_CORE_JWT_TTL_SECONDS = 24 * 3600;

/** Options of {@link mintIotCoreJwt}. */
export interface MintIotCoreJwtOptions {
  /** The device's private key: a `KeyObject`, or PEM/DER (PKCS#1, SEC1, PKCS#8), e.g. `mender-agent.pem`. */
  privateKey: KeyObject | string | Uint8Array;
  /** Passphrase of an encrypted PEM key. */
  passphrase?: string;
  /** The Google Cloud (or compatible) project id: the `aud` claim. */
  projectId: string;
  /** Lifetime in seconds: `exp - iat`. Default 3600; at most 86 400 (24 h). */
  ttlSeconds?: number;
  /** The issue time (default now). */
  now?: Date;
}

/** A minted JWT with its claims. */
export interface IotCoreJwt {
  /** The compact JWT (`header.claims.signature`). */
  token: string;
  /** `RS256` or `ES256`. */
  algorithm: IotCoreJwtAlgorithm;
  /** Seconds since the epoch. */
  iat: number;
  /** Seconds since the epoch. */
  exp: number;
}

/**
 * The JWT algorithm for a key: `RS256` for RSA, `ES256` for ECDSA P-256.
 *
 * @throws {@link IotCoreError} `ERR_IOTCORE_KEY_UNSUPPORTED` for Ed25519 and other curves, which IoT
 *   Core does not accept.
 */
export function iotCoreJwtAlgorithm(key: KeyObject): IotCoreJwtAlgorithm {
  const type = keyType(key);
  if (type === 'rsa') return 'RS256';
  if (type === 'ecdsa-p256') return 'ES256';
  throw new IotCoreError(
    'ERR_IOTCORE_KEY_UNSUPPORTED',
    `Cloud IoT Core signs device JWTs with RS256 (RSA) or ES256 (P-256) only, not ${type}`,
  );
}

/**
 * Mints a device JWT for Cloud IoT Core (and compatible bridges) with the same private key the
 * Mender client uses, through core's `signJwt` (jose): header `{alg, typ: 'JWT'}`, claims
 * `{iat, exp, aud: projectId}`; RS256 for RSA keys, ES256 (raw `r‖s` signature, as JWS requires)
 * for P-256 keys.
 *
 * @throws (rejects with) {@link IotCoreError} `ERR_IOTCORE_KEY_UNSUPPORTED` (Ed25519, P-384…),
 *   `ERR_IOTCORE_OPTIONS` (no project id, lifetime not in 1..86 400 s); `KeyError` from
 *   `@otakit/core` when the key cannot be loaded.
 *
 * @example
 * ```ts
 * const { token, exp } = await mintIotCoreJwtDetailed({ privateKey: pem, projectId: 'my-project' })
 * const password = await mintIotCoreJwt({ privateKey: pem, projectId: 'my-project', ttlSeconds: 1200 })
 * ```
 */
export async function mintIotCoreJwt(options: MintIotCoreJwtOptions): Promise<string> {
  return (await mintIotCoreJwtDetailed(options)).token;
}

/** Like {@link mintIotCoreJwt}, also returning the algorithm and the `iat`/`exp` claims. */
export async function mintIotCoreJwtDetailed(options: MintIotCoreJwtOptions): Promise<IotCoreJwt> {
  const { projectId, ttlSeconds = 3600 } = options;
  if (typeof projectId !== 'string' || projectId === '') {
    throw new IotCoreError('ERR_IOTCORE_OPTIONS', 'projectId is required (it is the JWT audience)');
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_IOT_CORE_JWT_TTL_SECONDS) {
    throw new IotCoreError(
      'ERR_IOTCORE_OPTIONS',
      `ttlSeconds must be an integer in 1..${MAX_IOT_CORE_JWT_TTL_SECONDS} (IoT Core refuses JWTs living over 24 h)`,
    );
  }
  const key =
    typeof options.privateKey === 'object' && 'asymmetricKeyType' in options.privateKey
      ? options.privateKey
      : loadPrivateKey(options.privateKey as string | Uint8Array, options.passphrase);
  if (key.type !== 'private') {
    throw new IotCoreError('ERR_IOTCORE_OPTIONS', 'a private key is needed to sign the JWT');
  }
  const algorithm = iotCoreJwtAlgorithm(key);
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const exp = iat + ttlSeconds;
  const token = await signJwt({ iat, exp, aud: projectId }, key, { algorithm });
  return { token, algorithm, iat, exp };
}
