import { describe, expect, it } from 'vitest';
import { AbortError, Backoff, backoffCeiling, backoffDelay, mapConcurrent, sleep } from '../../src/index.js';

describe('backoff', () => {
  it('grows the ceiling by the factor each `repeats` attempts, up to the cap', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffCeiling(a, o))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const mender = { baseDelayMs: 60_000, maxDelayMs: 300_000, repeats: 3 };
    expect([1, 2, 3, 4, 6, 7, 10].map((a) => backoffCeiling(a, mender))).toEqual([
      60_000, 60_000, 60_000, 120_000, 120_000, 240_000, 300_000,
    ]);
    expect(backoffCeiling(1, { baseDelayMs: 10, maxDelayMs: 1000, factor: 3 })).toBe(10);
    expect(backoffCeiling(3, { baseDelayMs: 10, maxDelayMs: 1000, factor: 3 })).toBe(90);
  });

  it('never overflows on a long outage', () => {
    expect(backoffCeiling(100_000, { baseDelayMs: 1, maxDelayMs: 5000 })).toBe(5000);
    expect(backoffDelay(100_000, { baseDelayMs: 1, maxDelayMs: 5000, jitter: 'none' })).toBe(5000);
  });

  it('draws full, equal or no jitter below the ceiling', () => {
    const o = { baseDelayMs: 1000, maxDelayMs: 10_000 };
    expect(backoffDelay(2, { ...o, random: () => 0 })).toBe(0);
    expect(backoffDelay(2, { ...o, random: () => 0.5 })).toBe(1000);
    expect(backoffDelay(2, { ...o, jitter: 'equal', random: () => 0 })).toBe(1000);
    expect(backoffDelay(2, { ...o, jitter: 'equal', random: () => 0.999999 })).toBe(2000);
    expect(backoffDelay(2, { ...o, jitter: 'none', random: () => 0.1 })).toBe(2000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, o);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });

  it('Backoff counts failures and resets on success', () => {
    const b = new Backoff({ baseDelayMs: 10, maxDelayMs: 100, jitter: 'none' });
    expect(b.ceiling).toBe(10);
    expect([b.next(), b.next(), b.next()]).toEqual([10, 20, 40]);
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(10);
  });
});

describe('sleep', () => {
  it('resolves after the time', async () => {
    const t = Date.now();
    await sleep(20);
    expect(Date.now() - t).toBeGreaterThanOrEqual(15);
  });

  it('rejects at once with the signal reason, or an AbortError without one', async () => {
    const reason = new Error('mine');
    await expect(sleep(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    // A plain abort() (the DOM's default reason) is "no reason": an otakit AbortError, as in HttpClient.
    const c = new AbortController();
    const p = sleep(10_000, c.signal);
    c.abort();
    await expect(p).rejects.toBeInstanceOf(AbortError);
    await expect(p).rejects.toMatchObject({ cause: expect.any(DOMException) });
    const c2 = new AbortController();
    const p2 = sleep(10_000, c2.signal);
    Object.defineProperty(c2.signal, 'reason', { value: undefined });
    c2.abort();
    await expect(p2).rejects.toBeInstanceOf(AbortError);
  });
});

describe('mapConcurrent', () => {
  it('keeps at most `concurrency` calls in flight and returns results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapConcurrent(
      [5, 1, 4, 2, 3, 0],
      async (n) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await sleep(n * 3);
        inFlight--;
        if (n === 2) throw new Error('two');
        return n * 10;
      },
      { concurrency: 2 },
    );
    expect(peak).toBe(2);
    expect(results.map((r) => (r.ok ? r.value : (r.error as Error).message))).toEqual([
      50,
      10,
      40,
      'two',
      30,
      0,
    ]);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('consumes an async iterable lazily, one pull at a time', async () => {
    let pulled = 0;
    async function* gen() {
      for (let i = 0; i < 20; i++) {
        pulled++;
        yield i;
      }
    }
    const seen: number[] = [];
    const results = await mapConcurrent(
      gen(),
      async (i) => {
        seen.push(pulled - i);
        await sleep(1);
        return i;
      },
      { concurrency: 4 },
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results).toHaveLength(20);
    // never more than `concurrency` items pulled ahead of the one being worked on
    expect(Math.max(...seen)).toBeLessThanOrEqual(4);
  });

  it('fails items not started once the signal aborts', async () => {
    const c = new AbortController();
    const results = await mapConcurrent(
      [1, 2, 3, 4, 5],
      async (n) => {
        if (n === 2) c.abort(new Error('stop'));
        return n;
      },
      { concurrency: 1, signal: c.signal },
    );
    expect(results.map((r) => r.ok)).toEqual([true, true, false, false, false]);
    expect((results[4] as { error: Error }).error.message).toBe('stop');
  });
});
