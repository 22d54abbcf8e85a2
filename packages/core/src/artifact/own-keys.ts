/**
 * Own-property-safe object construction for keys that come from artifact JSON or callers:
 * `__proto__`, `constructor` and `prototype` are stored as ordinary keys and never change a
 * prototype (`obj[key] = v` and `Object.assign` would call the `__proto__` setter instead).
 */

/** Sets `key` as an own enumerable property of `target`. @internal */
export function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A copy of `record`'s own enumerable keys, optionally sorted, built with {@link setOwn}. @internal */
export function copyOwn<T>(record: Record<string, T>, sorted = false): Record<string, T> {
  const out: Record<string, T> = {};
  const keys = Object.keys(record);
  if (sorted) keys.sort();
  for (const key of keys) setOwn(out, key, record[key]!);
  return out;
}
