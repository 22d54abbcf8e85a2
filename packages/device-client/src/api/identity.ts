import { decodeJwt } from '@otakit/core';

/** A device identity: attribute names to a string value, or several values (sent as an array). */
export type DeviceIdentity = Record<string, string | string[]>;

/** An identity, or an async function that produces it (e.g. reads a MAC address). */
export type IdentitySource = DeviceIdentity | (() => DeviceIdentity | Promise<DeviceIdentity>);

/**
 * Serialises an identity the way the Mender client does (`id_data`): a JSON object with sorted
 * keys, values as strings or arrays of strings.
 */
export function serializeIdentity(identity: DeviceIdentity): string {
  // Object.fromEntries defines own keys, so `__proto__` is serialised like any other attribute.
  const sorted = Object.fromEntries(
    Object.keys(identity)
      .sort()
      .map((key) => {
        const value = identity[key]!;
        return [key, Array.isArray(value) ? value.map(String) : String(value)];
      }),
  );
  return JSON.stringify(sorted);
}

/**
 * The `iat` and `exp` claims (seconds) of the device's own token, read without verifying it (core's
 * {@link decodeJwt}); empty when the token is not a readable JWT (the server's business).
 * @internal
 */
export async function tokenTimes(token: string): Promise<{ iat?: number; exp?: number }> {
  try {
    const { claims } = await decodeJwt(token);
    return {
      ...(typeof claims.exp === 'number' ? { exp: claims.exp } : {}),
      ...(typeof claims.iat === 'number' ? { iat: claims.iat } : {}),
    };
  } catch {
    return {};
  }
}
