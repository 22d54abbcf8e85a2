/**
 * The rollups (migration 4, src/rollups.ts): per-release and cohort aggregates read through them
 * must equal what percentile_cont gives over the same samples, exactly (the mean within 1e-12 of
 * the samples' magnitude: it is summed in another order), whatever the data, the window's edges,
 * rows written late into buckets already rolled up, and writes racing the reads.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type MetricAggregate,
  openTelemetryStore,
  type ReleaseAggregate,
  TelemetryClosedError,
  type TelemetryMessage,
  type TelemetryStore,
  TelemetryValidationError,
} from '@otakit/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendsUnderTest, onDatabase, pgRows, type TestTarget } from './backends.js';
import { rng } from './random.js';

const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
const OTHER_REGISTRY = 'projects/demo/locations/europe-west1/registries/lab';
const DIRTY = 'select count(*) as n from telemetry_rollup_dirty';
const HOUR = 3_600_000;
/** A bucket-aligned time well in the past (every bucket of the data is closed). */
const BASE = Date.parse('2026-06-01T00:00:00.000Z');
const RELEASES = ['r-1', 'r-2', null] as const;
const FIELDS = ['few', 'distinct', 'constant', 'signed', 'zero', 'close', 'wide'] as const;

/** One stored sample, as the reference sees it. */
interface Sample {
  release: string | null;
  registry: string;
  kind: 'event' | 'state';
  at: number;
  values: Record<string, number>;
}

function fieldValue(field: (typeof FIELDS)[number], r: () => number): number {
  switch (field) {
    case 'few':
      return [0.1, 0.25, 0.5, 0.75, 1, 2.5][Math.floor(r() * 6)] as number;
    case 'distinct':
      return r() * 1000;
    case 'constant':
      return 42;
    case 'signed': {
      const x = r();
      return x < 0.2 ? 0 : x < 0.6 ? -(r() * 50) : r() * 50;
    }
    case 'zero':
      return 0;
    case 'close':
      // Two values one ulp apart: one value class, least != greatest, so ranks in it are refined.
      return r() < 0.5 ? 1 : 1 + 2 ** -52;
    case 'wide':
      return (r() < 0.5 ? -1 : 1) * 10 ** Math.floor(r() * 600 - 300) * (1 + r());
  }
}

function makeSamples(r: () => number, count: number, start: number, span: number, idPrefix: string) {
  const samples: Sample[] = [];
  const messages: TelemetryMessage[] = [];
  for (let i = 0; i < count; i++) {
    const release = RELEASES[Math.floor(r() * RELEASES.length)] ?? null;
    const registry = r() < 0.8 ? REGISTRY : OTHER_REGISTRY;
    const kind = r() < 0.85 ? 'event' : 'state';
    const at = start + Math.floor(r() * span);
    const values: Record<string, number> = {};
    for (const f of FIELDS) if (r() < 0.9) values[f] = fieldValue(f, r);
    samples.push({ release, registry, kind, at, values });
    messages.push({
      id: `${idPrefix}-${i}`,
      deviceId: `d-${i % 17}`,
      registry,
      kind,
      receivedAt: at,
      ...(release === null ? {} : { artifactName: release }),
      payload: values,
    });
  }
  return { samples, messages };
}

type Dialect = 'duckdb' | 'postgres';
/** The database whose percentile_cont the figures must match (set per suite). */
let dialect: Dialect = 'duckdb';

/**
 * percentile_cont over sorted samples, to the last bit as each database interpolates:
 * PostgreSQL `lo + d * (hi - lo)` (float8_lerp), DuckDB `lo * (1 - d) + hi * d`.
 */
function percentileCont(sorted: number[], q: number): number {
  const position = q * (sorted.length - 1);
  const lo = sorted[Math.floor(position)] as number;
  const hi = sorted[Math.ceil(position)] as number;
  const d = position - Math.floor(position);
  return dialect === 'duckdb' ? lo * (1 - d) + hi * d : lo + d * (hi - lo);
}

interface Window {
  metric: string;
  from?: number;
  to?: number;
  registry?: string;
  kind?: 'event' | 'state';
}

function selected(samples: Sample[], w: Window): Sample[] {
  return samples.filter(
    (s) =>
      w.metric in s.values &&
      (w.from === undefined || s.at >= w.from) &&
      (w.to === undefined || s.at < w.to) &&
      (w.registry === undefined || s.registry === w.registry) &&
      (w.kind === undefined || s.kind === w.kind),
  );
}

function figures(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: values.length,
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    p50: percentileCont(sorted, 0.5),
    p95: percentileCont(sorted, 0.95),
    max: sorted[sorted.length - 1] as number,
    magnitude: values.reduce((a, b) => a + Math.abs(b), 0) / values.length,
  };
}

/** Exact figures, the mean within 1e-12 of the samples' mean magnitude. */
function expectFigures(
  got: { count: number; mean: number | null; p50: number | null; p95: number | null; max: number | null },
  values: number[],
  what: string,
): void {
  const want = figures(values);
  expect({ count: got.count, p50: got.p50, p95: got.p95, max: got.max }, what).toEqual({
    count: want.count,
    p50: want.p50,
    p95: want.p95,
    max: want.max,
  });
  expect(Math.abs((got.mean as number) - want.mean), `${what} mean`).toBeLessThanOrEqual(
    1e-12 * want.magnitude,
  );
}

function expectReleases(got: ReleaseAggregate[], samples: Sample[], w: Window): void {
  const chosen = selected(samples, w);
  const byRelease = new Map<string | null, number[]>();
  for (const s of chosen)
    byRelease.set(s.release, [...(byRelease.get(s.release) ?? []), s.values[w.metric] as number]);
  const what = JSON.stringify(w);
  expect(got.map((g) => g.release).sort(), what).toEqual([...byRelease.keys()].sort());
  for (const g of got) expectFigures(g, byRelease.get(g.release) as number[], `${what} ${g.release}`);
}

function expectCohort(got: MetricAggregate, samples: Sample[], w: Window): void {
  const values = selected(samples, w).map((s) => s.values[w.metric] as number);
  const what = JSON.stringify(w);
  if (values.length === 0) {
    expect(got, what).toEqual({ count: 0, mean: null, p50: null, p95: null, max: null, rate: null });
    return;
  }
  expectFigures(got, values, what);
  expect(got.rate, what).toBe(values.filter((v) => v > 0).length / values.length);
}

function randomWindow(r: () => number, start: number, span: number): Window {
  const metric = FIELDS[Math.floor(r() * FIELDS.length)] as string;
  const w: Window = { metric };
  const kindOf = r();
  // Mostly edges inside buckets; sometimes unbounded; sometimes on a bucket's edge.
  const edge = () => {
    const t = start - HOUR + Math.floor(r() * (span + 2 * HOUR));
    return r() < 0.2 ? Math.floor(t / HOUR) * HOUR : t;
  };
  if (r() < 0.85) w.from = edge();
  if (r() < 0.85) w.to = edge();
  if (w.from !== undefined && w.to !== undefined && w.from > w.to) [w.from, w.to] = [w.to, w.from];
  if (kindOf < 0.15) w.kind = 'state';
  else if (kindOf < 0.3) w.registry = OTHER_REGISTRY;
  return w;
}

const query = (w: Window) => ({
  metric: w.metric,
  ...(w.from === undefined ? {} : { from: w.from }),
  ...(w.to === undefined ? {} : { to: w.to }),
  ...(w.registry === undefined ? {} : { registry: w.registry }),
  ...(w.kind === undefined ? {} : { kind: w.kind }),
});

for (const backend of backendsUnderTest()) {
  describe(`rollups on ${backend.name}`, () => {
    let target: TestTarget;
    let store: TelemetryStore;
    beforeEach(async () => {
      dialect = backend.name;
      target = await backend.fresh();
      store = await openTelemetryStore(target.url);
    });
    afterEach(async () => {
      await store.close();
      await target.drop();
    });

    it('answers random windows over random fields exactly as percentile_cont, before and after late rows land in rolled buckets', async () => {
      const span = 10 * HOUR;
      const stored: Sample[] = [];
      for (const seed of [1, 2]) {
        const r = rng(seed);
        const { samples, messages } = makeSamples(r, 1500, BASE + seed * 100 * HOUR, span, `s${seed}`);
        await store.appendBatch(messages);
        stored.push(...samples);
        const start = BASE + seed * 100 * HOUR;
        for (let i = 0; i < 12; i++) {
          const w = randomWindow(r, start, span);
          expectReleases(await store.releaseAggregates(query(w)), stored, w);
          expectCohort(await store.aggregate(query(w)), stored, w);
        }
        // Late rows, backdated into buckets rolled up by the reads above (and a duplicate id).
        const late = makeSamples(r, 400, start, span, `late${seed}`);
        await store.appendBatch([...late.messages, messages[0] as TelemetryMessage]);
        stored.push(...late.samples);
        const all = stored;
        for (let i = 0; i < 12; i++) {
          const w = randomWindow(r, start, span);
          expectReleases(await store.releaseAggregates(query(w)), all, w);
          expectCohort(await store.aggregate(query(w)), all, w);
        }
        // The whole store, every field (no window: rollups below the watermark, samples above).
        for (const metric of FIELDS)
          expectReleases(await store.releaseAggregates({ metric }), all, { metric });
      }
    });

    it('counts rows of the open bucket and of buckets not rolled yet from the samples', async () => {
      const now = Date.now();
      const r = rng(7);
      // Rows up to now: the current bucket is open and never rolled up.
      const { samples, messages } = makeSamples(r, 600, now - 5 * HOUR, 5 * HOUR, 'open');
      await store.appendBatch(messages);
      const w = { metric: 'distinct', from: now - 6 * HOUR, to: now + HOUR };
      expectReleases(await store.releaseAggregates(query(w)), samples, w);
      const more = makeSamples(
        r,
        300,
        Math.floor(now / HOUR) * HOUR,
        now - Math.floor(now / HOUR) * HOUR + 1,
        'open2',
      );
      await store.appendBatch(more.messages);
      expectReleases(await store.releaseAggregates(query(w)), [...samples, ...more.samples], w);
    });

    it('reads whole buckets from the rollups (a changed rollup changes the answer), and edge buckets from the samples', async () => {
      const values = Array.from({ length: 48 }, (_, i) => i + 1);
      await store.appendBatch(
        values.map((v, i) => ({
          id: `b-${i}`,
          deviceId: 'pi-1',
          registry: REGISTRY,
          kind: 'event' as const,
          artifactName: 'r-1',
          receivedAt: BASE + i * (HOUR / 4),
          payload: { cpu: v },
        })),
      );
      const window = { metric: 'cpu', from: BASE, to: BASE + 12 * HOUR };
      const shortWindow = { metric: 'cpu', from: BASE + HOUR / 6, to: BASE + (HOUR * 11) / 12 };
      const [before] = await store.releaseAggregates(window);
      expect(before).toMatchObject({ count: 48, max: 48, p50: 24.5 });
      // Scale the rollups' counts: a read through them sees it; a read of edges only does not.
      const tamper = 'update telemetry_rollups set n = n * 2';
      if (backend.name === 'postgres') {
        await onDatabase(target.url, tamper);
        const [after] = await store.releaseAggregates(window);
        expect(after?.count).toBe(96);
        // A window under an hour: from the samples.
        const [edge] = await store.releaseAggregates(shortWindow);
        expect(edge?.count).toBe(3);
        const rows = await pgRows(target.url, 'select count(*) as n from telemetry_rollups');
        expect(Number(rows[0]?.n)).toBeGreaterThan(0);
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'otakit-rollups-'));
        try {
          const file = join(dir, 't.duckdb');
          const fileStore = await openTelemetryStore(file);
          await fileStore.appendBatch(
            values.map((v, i) => ({
              id: `b-${i}`,
              deviceId: 'pi-1',
              registry: REGISTRY,
              kind: 'event' as const,
              artifactName: 'r-1',
              receivedAt: BASE + i * (HOUR / 4),
              payload: { cpu: v },
            })),
          );
          expect((await fileStore.releaseAggregates(window))[0]).toEqual(before);
          await fileStore.close();
          const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api');
          const db = await DuckDBInstance.create(file);
          const c = await db.connect();
          await c.run(tamper);
          c.closeSync();
          db.closeSync();
          const again = await openTelemetryStore(file);
          try {
            expect((await again.releaseAggregates(window))[0]?.count).toBe(96);
            const [edge] = await again.releaseAggregates(shortWindow);
            expect(edge?.count).toBe(3);
          } finally {
            await again.close();
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });

    it('builds the rollups ahead of any read with rollUp(), once per closed bucket', async () => {
      const r = rng(5);
      const { samples, messages } = makeSamples(r, 300, BASE + 500 * HOUR, 3 * HOUR, 'ahead');
      await store.appendBatch(messages);
      await store.rollUp();
      if (backend.name === 'postgres') {
        const count = async () =>
          Number((await pgRows(target.url, 'select count(*) as n from telemetry_rollups'))[0]?.n);
        const built = await count();
        expect(built).toBeGreaterThan(0);
        // Nothing new since: a second roll-up builds nothing again.
        await store.rollUp();
        expect(await count()).toBe(built);
      }
      const w = {
        metric: 'signed',
        from: BASE + 500 * HOUR + 7 * 60_000,
        to: BASE + 503 * HOUR - 7 * 60_000,
      };
      expectReleases(await store.releaseAggregates(query(w)), samples, w);
    });

    it('rolls up on its own timer (rollUpIntervalMs) with no read, stays exact, and stops at close', async () => {
      const r = rng(9);
      const { samples, messages } = makeSamples(r, 400, BASE + 700 * HOUR, 3 * HOUR, 'timer');
      const w = { metric: 'distinct', from: BASE + 700 * HOUR + 11 * 60_000, to: BASE + 703 * HOUR - 60_000 };
      const dir = mkdtempSync(join(tmpdir(), 'otakit-rollup-timer-'));
      // DuckDB: a file, so that the rollups can be counted once the store has closed it.
      const url = backend.name === 'postgres' ? target.url : join(dir, 't.duckdb');
      try {
        const timed = await openTelemetryStore(url, { rollUpIntervalMs: 25 });
        try {
          await timed.appendBatch(messages);
          // No read and no rollUp() call: only the timer can build rollups.
          if (backend.name === 'postgres') {
            const count = async () =>
              Number((await pgRows(target.url, 'select count(*) as n from telemetry_rollups'))[0]?.n);
            const deadline = Date.now() + 20_000;
            while ((await count()) === 0 && Date.now() < deadline)
              await new Promise((ok) => setTimeout(ok, 25));
            expect(await count()).toBeGreaterThan(0);
          } else {
            await new Promise((ok) => setTimeout(ok, 1000));
          }
        } finally {
          // Closing while the timer may be rolling up resolves.
          await timed.close();
        }
        await expect(timed.rollUp()).rejects.toBeInstanceOf(TelemetryClosedError);
        if (backend.name === 'duckdb') {
          const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api');
          const db = await DuckDBInstance.create(url);
          const c = await db.connect();
          const rows = (
            await c.runAndReadAll('select count(*) as n from telemetry_rollups')
          ).getRowObjectsJS();
          c.closeSync();
          db.closeSync();
          expect(Number(rows[0]?.n)).toBeGreaterThan(0);
        }
        const again = await openTelemetryStore(url, { rollUpIntervalMs: 0 });
        try {
          expectReleases(await again.releaseAggregates(query(w)), samples, w);
        } finally {
          await again.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("rollUp() waits for the timer's roll-up and builds what it left, so nothing stays dirty", async () => {
      const r = rng(13);
      const dir = mkdtempSync(join(tmpdir(), 'otakit-rollup-busy-'));
      // DuckDB: a file, so that what the store built can be counted once it has closed it.
      const url = backend.name === 'postgres' ? target.url : join(dir, 't.duckdb');
      const rows = async (sql: string) => {
        if (backend.name === 'postgres') return await pgRows(url, sql);
        const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api');
        const db = await DuckDBInstance.create(url);
        const c = await db.connect();
        try {
          return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
        } finally {
          c.closeSync();
          db.closeSync();
        }
      };
      try {
        // A timer that is nearly always rolling up while the batches land (backdated, so each
        // one after a claim marks its buckets dirty).
        const busy = await openTelemetryStore(url, { rollUpIntervalMs: 1 });
        const all: Sample[] = [];
        try {
          for (let i = 0; i < 6; i++) {
            const { samples, messages } = makeSamples(r, 400, BASE + 900 * HOUR, 6 * HOUR, `busy${i}`);
            await busy.appendBatch(messages);
            all.push(...samples);
            await new Promise((ok) => setTimeout(ok, 2));
          }
          await busy.rollUp();
          // PostgreSQL: looked at before the store closes (its timer may start another roll-up
          // since, which finds nothing to do).
          if (backend.name === 'postgres') expect(Number((await rows(DIRTY))[0]?.n)).toBe(0);
        } finally {
          await busy.close();
        }
        expect(Number((await rows(DIRTY))[0]?.n)).toBe(0);
        const [built] = await rows(
          `select sum(n) as n from telemetry_rollups where name = 'distinct' and not hourly`,
        );
        expect(Number(built?.n)).toBe(all.filter((x) => 'distinct' in x.values).length);
        const again = await openTelemetryStore(url, { rollUpIntervalMs: 0 });
        try {
          const w = { metric: 'distinct', from: BASE + 899 * HOUR, to: BASE + 907 * HOUR };
          expectReleases(await again.releaseAggregates(query(w)), all, w);
        } finally {
          await again.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a rollUpIntervalMs that is not a positive integer or 0, and closes what it opened', async () => {
      for (const rollUpIntervalMs of [-1, 1.5, Number.NaN]) {
        await expect(openTelemetryStore(target.url, { rollUpIntervalMs })).rejects.toBeInstanceOf(
          TelemetryValidationError,
        );
      }
      const off = await openTelemetryStore(target.url, { rollUpIntervalMs: 0 });
      await off.close();
    });

    it('stays exact while another store writes into rolled and open buckets as the reads roll up', async () => {
      if (backend.name === 'duckdb') {
        // One process owns a DuckDB store: the writer is the same store, racing its own reads.
        await raceWritesAndReads(store, store);
        return;
      }
      const writer = await openTelemetryStore(target.url);
      try {
        await raceWritesAndReads(writer, store);
      } finally {
        await writer.close();
      }
    });
  });
}

/**
 * Batches written one after another by `writer` (each committed whole, in order), some backdated
 * into buckets already rolled up, while `reader` queries: each answer must be that of the first k
 * batches, for the k its count gives.
 */
async function raceWritesAndReads(writer: TelemetryStore, reader: TelemetryStore): Promise<void> {
  const r = rng(11);
  const start = BASE + 300 * HOUR;
  const span = 8 * HOUR;
  const BATCH = 50;
  const batches: Sample[][] = [];
  const batchMessages: TelemetryMessage[][] = [];
  for (let b = 0; b < 30; b++) {
    const { samples, messages } = makeSamples(r, BATCH, start, span, `race${b}`);
    // Every message carries the field the reads count, so a count names a prefix of batches.
    for (const [i, s] of samples.entries()) {
      s.values.distinct = r() * 1000;
      s.registry = REGISTRY;
      (messages[i] as TelemetryMessage).payload = s.values;
      (messages[i] as TelemetryMessage).registry = REGISTRY;
    }
    batches.push(samples);
    batchMessages.push(messages);
  }
  await writer.appendBatch(batchMessages[0] as TelemetryMessage[]);
  const window = { metric: 'distinct', from: start - HOUR / 3, to: start + span - HOUR / 3 };
  let writing = true;
  const writes = (async () => {
    for (const m of batchMessages.slice(1)) {
      await writer.appendBatch(m);
      await new Promise((resolve) => setImmediate(resolve));
    }
    writing = false;
  })();
  let checked = 0;
  while (writing || checked < 3) {
    const got = await reader.aggregate(window);
    // The shortest prefix of batches whose samples in the window number `got.count` (a longer one
    // with the same count adds no sample of the window, so the same figures).
    let prefix = -1;
    for (let n = 1; n <= batches.length && prefix < 0; n++) {
      if (selected(batches.slice(0, n).flat(), window).length === got.count) prefix = n;
    }
    expect(prefix, `count ${got.count} is no prefix of the batches`).toBeGreaterThan(0);
    expectCohort(got, batches.slice(0, prefix).flat(), window);
    checked++;
  }
  await writes;
  expectCohort(await reader.aggregate(window), batches.flat(), window);
  expectReleases(await reader.releaseAggregates(window), batches.flat(), window);
}
