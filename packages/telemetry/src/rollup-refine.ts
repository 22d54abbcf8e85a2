/**
 * The percentiles of a read through the rollups (see `rollups.ts`, "Reading"): the class
 * histogram's rows grouped per release and checked, the ranks each percentile needs found in the
 * running count over the classes, and one query for the values inside classes of several values.
 * @internal
 */

import type { Querier } from './backends/backend.js';
import { interpolate } from './reads.js';
import type { Dialect } from './sql/migrations.js';
import type { FilterSpec } from './sql/queries.js';
import { type Refinement, type RollupPlan, refinementQuery } from './sql/rollup-reads.js';

/** One value class of one release in a window. */
interface ClassRow {
  release: string | null;
  valueClass: number;
  n: number;
  s: number;
  mn: number;
  mx: number;
}

/** A release's figures before refinement. @internal */
export interface Group {
  release: string | null;
  classes: ClassRow[];
  n: number;
  sum: number;
  positive: number;
}

const QUANTILES = [0.5, 0.95] as const;

/** The sample at a rank: known from its class (`value`), or the `index` of its refinement. */
interface RankValue {
  value?: number;
  index?: number;
}

/**
 * The histogram's rows (ordered by release as the database orders them, then by class) per
 * release; undefined when a release's class ranges overlap or are out of order.
 */
export function toGroups(rows: Record<string, unknown>[]): Group[] | undefined {
  const groups: Group[] = [];
  let current: Group | undefined;
  for (const r of rows) {
    const release = r.release === null || r.release === undefined ? null : String(r.release);
    const row: ClassRow = {
      release,
      valueClass: Number(r.value_class),
      n: Number(r.n),
      s: Number(r.s),
      mn: Number(r.mn),
      mx: Number(r.mx),
    };
    if (current === undefined || current.release !== release) {
      current = { release, classes: [], n: 0, sum: 0, positive: 0 };
      groups.push(current);
    }
    const prev = current.classes[current.classes.length - 1];
    if (prev !== undefined && !(prev.mx < row.mn)) return undefined;
    if (row.mn <= 0 && row.mx > 0) return undefined;
    current.classes.push(row);
    current.n += row.n;
    current.sum += row.s;
    if (row.mn > 0) current.positive += row.n;
  }
  return groups;
}

/** The percentiles of each group: from the classes, and one query for the ranks inside a class of several values. */
export async function refine(
  q: Querier,
  metric: string,
  f: FilterSpec,
  plan: RollupPlan,
  groups: Group[],
  byRelease: boolean,
  dialect: Dialect,
  staged: boolean,
): Promise<Array<Group & { p: number[]; max: number }>> {
  const wanted: Refinement[] = [];
  const keyOf = new Map<string, number>();
  // Per group, per quantile: the value at each of the two ranks, or the index of its refinement.
  const found = groups.map((g) =>
    QUANTILES.map((quantile) => {
      const position = quantile * (g.n - 1);
      return [Math.floor(position), Math.ceil(position)].map((rank) => {
        let before = 0;
        for (const c of g.classes) {
          if (rank < before + c.n) {
            if (c.mn === c.mx) return { value: c.mn };
            const r: Refinement = {
              release: g.release,
              valueClass: c.valueClass,
              lo: c.mn,
              hi: c.mx,
              offset: rank - before,
            };
            const key = JSON.stringify(r);
            let i = keyOf.get(key);
            if (i === undefined) {
              i = wanted.length;
              keyOf.set(key, i);
              wanted.push(r);
            }
            return { index: i };
          }
          before += c.n;
        }
        throw new Error(`rank ${rank} is beyond the ${g.n} samples counted`);
      });
    }),
  );
  const values = new Map<number, number>();
  if (wanted.length > 0) {
    const r = refinementQuery(metric, f, plan, wanted, byRelease, staged);
    for (const row of await q(r.text, r.params)) values.set(Number(row.i), Number(row.value));
  }
  const sampleAt = (v: RankValue): number => {
    if (v.value !== undefined) return v.value;
    const value = values.get(v.index as number);
    // The snapshot that counted the classes also read them: a missing sample is a bug.
    if (value === undefined) throw new Error('a refined sample is missing');
    return value;
  };
  return groups.map((g, gi) => ({
    ...g,
    p: QUANTILES.map((quantile, qi) => {
      const [lo, hi] = (found[gi] as Array<Array<RankValue>>)[qi] as [RankValue, RankValue];
      return interpolate(quantile, g.n, sampleAt(lo), sampleAt(hi), dialect);
    }),
    max: (g.classes[g.classes.length - 1] as ClassRow).mx,
  }));
}
