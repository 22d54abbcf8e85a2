/**
 * A fault that applies to requests whose path starts with `pathPrefix` (all requests when
 * omitted), for at most `count` requests (unlimited when omitted) after which it clears itself.
 */
export interface FaultScope {
  /** Only requests whose URL path starts with this prefix are affected. */
  pathPrefix?: string;
  /** How many matching requests the fault affects before it clears itself. */
  count?: number;
}

/** The set of faults the sandbox injects. Every field is optional; absent means "off". */
export interface FaultConfig {
  /**
   * Artifact downloads: end the connection after sending `bytes` body bytes, short of
   * `Content-Length`. `mode: 'close'` (default) closes it normally (FIN), so every byte sent
   * arrives; `mode: 'reset'` aborts it with a TCP RST, so the client sees ECONNRESET.
   */
  resetAfterBytes?: FaultScope & { bytes: number; mode?: 'close' | 'reset' };
  /** Artifact downloads: ignore `Range` and `If-Range` and answer 200 with the whole file. */
  ignoreRange?: FaultScope;
  /**
   * Artifact downloads: after `afterBytes` body bytes, stop sending for `ms` milliseconds (or until
   * the client gives up, when `ms` is omitted), then continue.
   */
  stall?: FaultScope & { afterBytes: number; ms?: number };
  /** Answer 429 with the standard error body; `retryAfter` seconds in `Retry-After` when given. */
  rateLimit?: FaultScope & { retryAfter?: number };
  /**
   * Answer `status` (default 500) to a share of matching requests: with `ratio` r, request n
   * (counting from 1) fails when floor(n*r) > floor((n-1)*r), so 0.5 fails every second request and
   * 1 fails all of them. Deterministic, so tests are repeatable.
   */
  serverErrors?: FaultScope & { ratio: number; status?: number };
  /** Delay the response to matching requests by `ms` milliseconds. */
  latency?: FaultScope & { ms: number };
  /** Signed download links expire this many seconds after they are issued (instead of 24 h / 15 min). */
  linkExpirySeconds?: number;
  /** Answer 404 on `POST /api/devices/v2/deployments/device/deployments/next`, like the open-source server. */
  disableV2Next?: boolean;
}

/** What happens to one request before its handler runs. */
export interface RequestFaults {
  latencyMs: number;
  rateLimit?: { retryAfter?: number };
  serverError?: number;
}

/** What happens to one artifact download. */
export interface DownloadFaults {
  resetAfterBytes?: number;
  resetMode: 'close' | 'reset';
  ignoreRange: boolean;
  stall?: { afterBytes: number; ms?: number };
}

const FAULT_KEYS = [
  'resetAfterBytes',
  'ignoreRange',
  'stall',
  'rateLimit',
  'serverErrors',
  'latency',
  'linkExpirySeconds',
  'disableV2Next',
] as const;

/** Path prefix of the fault control API; never affected by faults itself. */
export const FAULTS_API_PREFIX = '/api/sandbox/';

/**
 * The sandbox's fault switches, shared by the HTTP control API and in-process callers.
 *
 * @example
 * ```ts
 * const sandbox = await startSandbox();
 * sandbox.faults.set({ resetAfterBytes: { bytes: 1024, count: 1 } });
 * // ...the next artifact download breaks after 1 KiB
 * sandbox.faults.clear();
 * ```
 */
export class FaultController {
  private config: FaultConfig = {};
  private serverErrorCounter = 0;

  /** The active faults (a copy). */
  get(): FaultConfig {
    return structuredClone(this.config);
  }

  /** Replaces every fault with `config` (validated; throws `TypeError` on a malformed one). */
  set(config: FaultConfig): void {
    this.config = validateFaults(config);
    this.serverErrorCounter = 0;
  }

  /** Merges `patch` into the active faults; a field set to `null` turns that fault off. */
  update(patch: { [K in keyof FaultConfig]?: FaultConfig[K] | null }): void {
    const next: Record<string, unknown> = { ...this.config };
    for (const [k, v] of Object.entries(patch)) {
      if (!(FAULT_KEYS as readonly string[]).includes(k)) throw new TypeError(`unknown fault "${k}"`);
      if (v === null) delete next[k];
      else next[k] = v;
    }
    if (patch.serverErrors !== undefined) this.serverErrorCounter = 0;
    this.config = validateFaults(next as FaultConfig);
  }

  /** Turns every fault off. */
  clear(): void {
    this.config = {};
    this.serverErrorCounter = 0;
  }

  /** Decides the generic faults (latency, 429, 5xx) of one request. @internal */
  forRequest(path: string): RequestFaults {
    const out: RequestFaults = { latencyMs: 0 };
    if (path.startsWith(FAULTS_API_PREFIX)) return out;
    const { latency, rateLimit, serverErrors } = this.config;
    if (latency && this.take('latency', latency, path)) out.latencyMs = latency.ms;
    if (rateLimit && this.take('rateLimit', rateLimit, path)) {
      out.rateLimit = rateLimit.retryAfter === undefined ? {} : { retryAfter: rateLimit.retryAfter };
      return out;
    }
    if (serverErrors && matches(serverErrors, path)) {
      const n = ++this.serverErrorCounter;
      if (Math.floor(n * serverErrors.ratio) > Math.floor((n - 1) * serverErrors.ratio)) {
        if (this.take('serverErrors', serverErrors, path)) out.serverError = serverErrors.status ?? 500;
      }
    }
    return out;
  }

  /** Decides the download faults of one artifact download. @internal */
  forDownload(path: string): DownloadFaults {
    const { resetAfterBytes, ignoreRange, stall } = this.config;
    const out: DownloadFaults = { ignoreRange: false, resetMode: 'close' };
    if (resetAfterBytes && this.take('resetAfterBytes', resetAfterBytes, path)) {
      out.resetAfterBytes = resetAfterBytes.bytes;
      out.resetMode = resetAfterBytes.mode ?? 'close';
    }
    if (ignoreRange && this.take('ignoreRange', ignoreRange, path)) out.ignoreRange = true;
    if (stall && this.take('stall', stall, path)) {
      out.stall =
        stall.ms === undefined
          ? { afterBytes: stall.afterBytes }
          : { afterBytes: stall.afterBytes, ms: stall.ms };
    }
    return out;
  }

  /** Link lifetime override in seconds, if set. @internal */
  linkExpirySeconds(): number | undefined {
    return this.config.linkExpirySeconds;
  }

  /** Whether the v2 `next` route answers 404. @internal */
  v2NextDisabled(): boolean {
    return this.config.disableV2Next === true;
  }

  private take(
    key: 'latency' | 'rateLimit' | 'serverErrors' | 'resetAfterBytes' | 'ignoreRange' | 'stall',
    scope: FaultScope,
    path: string,
  ): boolean {
    if (!matches(scope, path)) return false;
    if (scope.count !== undefined) {
      scope.count -= 1;
      if (scope.count <= 0) delete this.config[key];
    }
    return true;
  }
}

function matches(scope: FaultScope, path: string): boolean {
  return scope.pathPrefix === undefined || path.startsWith(scope.pathPrefix);
}

function validateFaults(input: unknown): FaultConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError('faults must be an object');
  }
  const config = structuredClone(input) as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (!(FAULT_KEYS as readonly string[]).includes(key)) throw new TypeError(`unknown fault "${key}"`);
  }
  const c = config as FaultConfig;
  const scoped = (
    name: string,
    v: FaultScope | undefined,
    extra?: (v: Record<string, unknown>) => void,
  ): void => {
    if (v === undefined) return;
    if (typeof v !== 'object' || v === null) throw new TypeError(`${name} must be an object`);
    if (v.pathPrefix !== undefined && typeof v.pathPrefix !== 'string') {
      throw new TypeError(`${name}.pathPrefix must be a string`);
    }
    if (v.count !== undefined && !(Number.isInteger(v.count) && v.count > 0)) {
      throw new TypeError(`${name}.count must be a positive integer`);
    }
    extra?.(v as Record<string, unknown>);
  };
  const nonNegative = (name: string, v: unknown, optional = false): void => {
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new TypeError(`${name} must be a number >= 0`);
  };
  scoped('resetAfterBytes', c.resetAfterBytes, (v) => {
    nonNegative('resetAfterBytes.bytes', v.bytes);
    if (v.mode !== undefined && v.mode !== 'close' && v.mode !== 'reset') {
      throw new TypeError('resetAfterBytes.mode must be "close" or "reset"');
    }
  });
  scoped('ignoreRange', c.ignoreRange);
  scoped('stall', c.stall, (v) => {
    nonNegative('stall.afterBytes', v.afterBytes);
    nonNegative('stall.ms', v.ms, true);
  });
  scoped('rateLimit', c.rateLimit, (v) => nonNegative('rateLimit.retryAfter', v.retryAfter, true));
  scoped('serverErrors', c.serverErrors, (v) => {
    if (typeof v.ratio !== 'number' || !(v.ratio > 0 && v.ratio <= 1)) {
      throw new TypeError('serverErrors.ratio must be in (0, 1]');
    }
    if (
      v.status !== undefined &&
      !(Number.isInteger(v.status) && (v.status as number) >= 500 && (v.status as number) <= 599)
    ) {
      throw new TypeError('serverErrors.status must be a 5xx status');
    }
  });
  scoped('latency', c.latency, (v) => nonNegative('latency.ms', v.ms));
  nonNegative('linkExpirySeconds', c.linkExpirySeconds, true);
  if (c.disableV2Next !== undefined && typeof c.disableV2Next !== 'boolean') {
    throw new TypeError('disableV2Next must be a boolean');
  }
  return c;
}
