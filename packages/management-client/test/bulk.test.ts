import { describe, expect, it } from 'vitest';
import { runBulk } from '../src/index.js';

describe('runBulk', () => {
  it('never runs more than `concurrency` calls at once and keeps input order in results', async () => {
    let inFlight = 0;
    let most = 0;
    const result = await runBulk(
      Array.from({ length: 50 }, (_, i) => i),
      async (n) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        if (n % 7 === 0) throw new Error(`item ${n}`);
        return n * 2;
      },
      { concurrency: 4 },
    );
    expect(most).toBe(4);
    expect(result.results.map((r) => r.index)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(result.failed).toBe(8); // 0, 7, ..., 49
    expect(result.succeeded).toBe(42);
    const third = result.results[3];
    expect(third?.ok && third.value).toBe(6);
  });

  it('takes any iterable, including a generator consumed lazily', async () => {
    let pulled = 0;
    function* items() {
      for (let i = 0; i < 10; i++) {
        pulled++;
        yield i;
      }
    }
    const seenPulled: number[] = [];
    await runBulk(
      items(),
      async () => {
        seenPulled.push(pulled);
      },
      { concurrency: 2 },
    );
    expect(seenPulled[0]).toBeLessThanOrEqual(2);
    expect(pulled).toBe(10);
  });

  it('fails the items not started once the signal aborts, without stopping the ones in flight', async () => {
    const controller = new AbortController();
    const result = await runBulk(
      [1, 2, 3, 4, 5],
      async (n) => {
        if (n === 2) controller.abort(new Error('stop'));
        return n;
      },
      { concurrency: 1, signal: controller.signal },
    );
    expect(result.results.map((r) => r.ok)).toEqual([true, true, false, false, false]);
    const last = result.results[4];
    expect(last?.ok === false && (last.error as Error).message).toBe('stop');
  });
});
