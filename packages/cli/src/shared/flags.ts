/**
 * One parser per shared flag. Every command that takes one of these flags uses the parser here, so
 * the same flags mean the same thing everywhere.
 */
import { InvalidArgumentError } from 'commander';
import { usageError } from './errors.js';

/** Commander argument parser for a repeatable flag: collects every value in order. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** An identity as Mender stores it: each attribute a string, or a list of strings. */
export type Identity = Record<string, string | string[]>;

/**
 * Parses repeated `--identity key=value` flags into an identity.
 *
 * A key given once is a string; a key repeated is a list of its values in the order given (as
 * Mender's identity scripts report e.g. several MAC addresses): `--identity mac=a --identity mac=b`
 * is `{mac: ["a", "b"]}`. The value may contain `=`; the key may not be empty. `devices preauthorize`
 * and `device run` both use this, so the same flags give the same identity.
 *
 * @throws {@link CliError} `ERR_CLI_USAGE` for a pair without `=` or with an empty key.
 */
export function parseIdentity(pairs: readonly string[]): Identity {
  // A Map, then Object.fromEntries: `__proto__`, `constructor` and `prototype` are ordinary keys.
  const values = new Map<string, string[]>();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`--identity wants key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, at);
    values.set(key, [...(values.get(key) ?? []), pair.slice(at + 1)]);
  }
  return Object.fromEntries([...values].map(([k, v]) => [k, v.length === 1 ? (v[0] as string) : v]));
}

/** Parses a positive finite number given to `flag`. @throws {@link CliError} `ERR_CLI_USAGE`. */
export function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw usageError(`${flag} wants a positive number, got ${JSON.stringify(value)}`);
  }
  return n;
}

const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses a duration in milliseconds: `250ms`, `30s`, `5m`, `2h`, `1d`, or a plain number of
 * milliseconds. @throws {@link CliError} `ERR_CLI_USAGE`.
 */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw usageError(`${flag} wants a duration like 30s, 5m, 2h; got ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[(m[2] ?? 'ms') as keyof typeof UNITS];
}

/** Commander argument parser of a TCP port, 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new InvalidArgumentError('must be an integer from 0 to 65535');
  }
  return n;
}

/** Splits a comma-separated list, dropping empty items. */
export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** An IoT Core registry's parts, as `projects/P/locations/L/registries/R` names them. */
export interface RegistryName {
  project: string;
  location: string;
  registry: string;
}

/**
 * Parses a full registry name `projects/P/locations/L/registries/R`.
 * @throws {@link CliError} `ERR_CLI_USAGE` naming `flag` when it is anything else.
 */
export function parseRegistryName(value: string, flag: string): RegistryName {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)\/registries\/([^/]+)$/.exec(value);
  if (!m) throw usageError(`${flag} must be projects/P/locations/L/registries/R, got "${value}"`);
  return { project: m[1] as string, location: m[2] as string, registry: m[3] as string };
}
