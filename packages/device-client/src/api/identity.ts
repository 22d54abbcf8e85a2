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

/** Reads the `exp` claim (seconds) of a JWT without verifying it; undefined when absent or unreadable. */
export function jwtExpiry(token: string): number | undefined {
  return jwtTimes(token).exp;
}

/** Reads the `iat` and `exp` claims (seconds) of a JWT without verifying it. @internal */
export function jwtTimes(token: string): { iat?: number; exp?: number } {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as {
      exp?: unknown;
      iat?: unknown;
    };
    return {
      ...(typeof claims.exp === 'number' ? { exp: claims.exp } : {}),
      ...(typeof claims.iat === 'number' ? { iat: claims.iat } : {}),
    };
  } catch {
    return {};
  }
}
