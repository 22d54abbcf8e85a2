/** A health probe run after the reboot into a new image (and before the commit). */
export interface HealthCheck {
  /** Shown in events and the deployment log. */
  name: string;
  /** Resolves when healthy; rejects or resolves `false` when not. */
  check: (ctx: { signal: AbortSignal }) => Promise<unknown> | unknown;
  /** Fails the check when it takes longer (ms). Default 60 000. */
  timeoutMs?: number;
}

/** The outcome of one health check. */
export interface HealthCheckResult {
  name: string;
  ok: boolean;
  error?: string;
  durationMs: number;
}

/**
 * Runs health checks one by one, each under its timeout; stops at the first failure.
 * Returns the results (the last one is the failure, if any).
 */
export async function runHealthChecks(
  checks: HealthCheck[],
  signal?: AbortSignal,
): Promise<HealthCheckResult[]> {
  const results: HealthCheckResult[] = [];
  for (const hc of checks) {
    const started = performance.now();
    const timeoutMs = hc.timeoutMs ?? 60_000;
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          ac.abort();
          reject(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      });
      const value = await Promise.race([
        Promise.resolve().then(() => hc.check({ signal: ac.signal })),
        timeout,
      ]);
      if (value === false) throw new Error('reported unhealthy');
      results.push({ name: hc.name, ok: true, durationMs: Math.round(performance.now() - started) });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      results.push({
        name: hc.name,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        durationMs: Math.round(performance.now() - started),
      });
      return results;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
  return results;
}
