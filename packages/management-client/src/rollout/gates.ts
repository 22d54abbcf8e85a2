/**
 * Release health gates: a rollout phase passes only when the telemetry of the devices that took the
 * new release is no worse than that of the devices that did not (or of a control group).
 */

/** The statistic a gate compares. `rate` is the share of samples whose metric is above 0. */
export type GateStat = 'mean' | 'p95' | 'max' | 'rate';

/** One health gate on a telemetry metric. */
export interface ReleaseGate {
  /** The numeric telemetry field, e.g. `cpu_temp`. */
  metric: string;
  /** What is compared. */
  stat: GateStat;
  /**
   * The largest increase over the baseline cohort allowed: `'10%'` (relative) or a number (absolute,
   * in the metric's unit). Needs a baseline cohort.
   */
  maxIncrease?: `${number}%` | number;
  /** The largest value the updated cohort may show (absolute). */
  max?: number;
  /** Samples each judged cohort needs before the gate decides. Default 10. */
  minSamples?: number;
}

/** A cohort's telemetry over a window. */
export interface CohortQuery {
  metric: string;
  stat: GateStat;
  /** Mender device ids of the cohort. */
  devices: readonly string[];
  from: Date;
  to: Date;
}

/** A statistic and how many samples it was computed over (`value` undefined without samples). */
export interface CohortValue {
  value: number | undefined;
  samples: number;
}

/**
 * Where gates read telemetry. The management client does not import a telemetry store: anything
 * that answers this (the `@otakit/telemetry` store, through `releaseHealthSource`, or your own
 * analytics) will do. It receives Mender device ids.
 */
export interface ReleaseHealthSource {
  aggregate(query: CohortQuery, options?: { signal?: AbortSignal }): Promise<CohortValue>;
}

/** What a gate decided, with the numbers behind it. */
export interface GateDecision {
  /** The gate as written, e.g. `cpu_temp:p95:+10%`. */
  gate: string;
  verdict: 'pass' | 'regression' | 'insufficient-data';
  /** Why, in words. */
  reason: string;
  updated: CohortValue;
  baseline?: CohortValue;
  /** The threshold the updated cohort was held to. */
  limit?: number;
  /** The telemetry window judged (ISO times). */
  window: { from: string; to: string };
  /** When the decision was made. */
  at: string;
}

const DEFAULT_MIN_SAMPLES = 10;

/**
 * Parses a gate written as `metric:stat:rule`: `cpu_temp:p95:+10%` (at most 10 % over the
 * baseline), `cpu_temp:mean:+2` (at most 2 units over), `errors:rate:<0.01` (at most 0.01, absolute),
 * optionally `@N` for the minimum samples (`cpu_temp:p95:+10%@50`).
 *
 * @throws TypeError for anything else.
 */
export function parseGate(spec: string): ReleaseGate {
  const m = /^([A-Za-z0-9_.\-/]+):(mean|p95|max|rate):(\+\d+(?:\.\d+)?%?|<\d+(?:\.\d+)?)(?:@(\d+))?$/.exec(
    spec,
  );
  if (!m) {
    throw new TypeError(
      `a gate is metric:stat:rule with stat mean|p95|max|rate and rule +N%, +N or <N (optionally @minSamples), got "${spec}"`,
    );
  }
  const [, metric, stat, rule, min] = m as unknown as [string, string, GateStat, string, string | undefined];
  const gate: ReleaseGate = { metric, stat };
  if (rule.startsWith('<')) gate.max = Number(rule.slice(1));
  else
    gate.maxIncrease = rule.endsWith('%')
      ? (`${Number(rule.slice(1, -1))}%` as `${number}%`)
      : Number(rule.slice(1));
  if (min !== undefined) gate.minSamples = Number(min);
  return gate;
}

/** A gate written back as {@link parseGate} reads it. */
export function gateLabel(gate: ReleaseGate): string {
  const rules: string[] = [];
  if (gate.maxIncrease !== undefined) rules.push(`+${gate.maxIncrease}`);
  if (gate.max !== undefined) rules.push(`<${gate.max}`);
  return `${gate.metric}:${gate.stat}:${rules.join(',')}`;
}

/** Checks a gate's options. @throws TypeError */
export function validateGate(gate: ReleaseGate): void {
  if (typeof gate.metric !== 'string' || gate.metric === '') throw new TypeError('a gate needs a metric');
  if (!['mean', 'p95', 'max', 'rate'].includes(gate.stat))
    throw new TypeError(`unknown gate stat ${gate.stat}`);
  if (gate.maxIncrease === undefined && gate.max === undefined) {
    throw new TypeError(`gate ${gate.metric}: give maxIncrease, max or both`);
  }
  if (typeof gate.maxIncrease === 'string' && !/^\d+(\.\d+)?%$/.test(gate.maxIncrease)) {
    throw new TypeError(`gate ${gate.metric}: maxIncrease must be like '10%' or a number`);
  }
  if (gate.minSamples !== undefined && !(Number.isInteger(gate.minSamples) && gate.minSamples >= 1)) {
    throw new TypeError(`gate ${gate.metric}: minSamples must be a positive integer`);
  }
}

/** Whether a gate compares with a baseline cohort. */
export function needsBaseline(gate: ReleaseGate): boolean {
  return gate.maxIncrease !== undefined;
}

/**
 * Judges one gate from the cohorts' numbers. Too few samples never passes: the verdict is
 * `insufficient-data` and the caller holds the phase.
 */
export function judgeGate(
  gate: ReleaseGate,
  updated: CohortValue,
  baseline: CohortValue | undefined,
): Pick<GateDecision, 'verdict' | 'reason' | 'limit'> {
  const minSamples = gate.minSamples ?? DEFAULT_MIN_SAMPLES;
  if (updated.samples < minSamples || updated.value === undefined) {
    return {
      verdict: 'insufficient-data',
      reason: `updated cohort has ${updated.samples} samples of ${gate.metric}, needs ${minSamples}`,
    };
  }
  let limit = Number.POSITIVE_INFINITY;
  const reasons: string[] = [];
  if (gate.maxIncrease !== undefined) {
    if (baseline === undefined || baseline.samples < minSamples || baseline.value === undefined) {
      return {
        verdict: 'insufficient-data',
        reason: `baseline cohort has ${baseline?.samples ?? 0} samples of ${gate.metric}, needs ${minSamples}`,
      };
    }
    const b = baseline.value;
    const allowed =
      typeof gate.maxIncrease === 'number'
        ? b + gate.maxIncrease
        : b + Math.abs(b) * (Number(gate.maxIncrease.slice(0, -1)) / 100);
    limit = Math.min(limit, allowed);
    reasons.push(`baseline ${fmt(b)} + ${gate.maxIncrease} = ${fmt(allowed)}`);
  }
  if (gate.max !== undefined) {
    limit = Math.min(limit, gate.max);
    reasons.push(`max ${fmt(gate.max)}`);
  }
  const value = updated.value;
  if (value > limit) {
    return {
      verdict: 'regression',
      reason: `${gate.stat} ${gate.metric} of the updated cohort is ${fmt(value)}, over ${fmt(limit)} (${reasons.join('; ')})`,
      limit,
    };
  }
  return {
    verdict: 'pass',
    reason: `${gate.stat} ${gate.metric} of the updated cohort is ${fmt(value)}, within ${fmt(limit)} (${reasons.join('; ')})`,
    limit,
  };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/0+$/, '');
}
