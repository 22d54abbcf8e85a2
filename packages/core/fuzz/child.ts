/**
 * A fuzz worker process: builds the corpus, then runs the cases the driver (run.ts) sends, one at a
 * time, and answers each with its verdict, wall time and resident memory.
 */

import { type CaseResult, prepareCases, runCase } from './cases.js';
import { buildSeeds } from './seeds.js';

/** A case the driver asks for. */
export interface CaseRequest {
  runSeed: number;
  index: number;
}

/** The answer to a {@link CaseRequest}. */
export interface CaseReply extends CaseResult {
  index: number;
  ms: number;
  rss: number;
}

const seeds = await buildSeeds();
prepareCases();
process.send?.({ ready: true, seeds: seeds.map((s) => s.label) });
process.on('message', (msg: CaseRequest) => {
  const start = performance.now();
  runCase(seeds, msg.runSeed, msg.index).then(
    (result) => {
      const reply: CaseReply = {
        ...result,
        index: msg.index,
        ms: performance.now() - start,
        rss: process.memoryUsage.rss(),
      };
      process.send?.(reply);
    },
    (err: unknown) => {
      process.send?.({
        verdict: 'harness-error',
        mutations: [],
        seed: '?',
        detail: err instanceof Error ? (err.stack ?? err.message) : String(err),
        index: msg.index,
        ms: performance.now() - start,
        rss: process.memoryUsage.rss(),
      } satisfies CaseReply);
    },
  );
});
