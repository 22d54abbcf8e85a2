/**
 * The open bucket rolled up slice by slice (migration 5, src/rollups.ts): a roll-up adds the
 * slices that closed to the rollups of their bucket, so that a read reads the samples of the last
 * slices only, not of the whole open bucket. The clock is the test's: each step moves it and
 * checks the answers against the database's own percentile_cont over the samples, what the
 * rollups hold, and that a row written late into a rolled slice makes its bucket be built again.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReleaseAggregate } from '@otakit/telemetry';
import { openTelemetryStore } from '@otakit/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/backend.js';
import { DuckDbBackend } from '../src/backends/duckdb.js';
import { PostgresBackend } from '../src/backends/postgres.js';
import { type StoredRow, toStoredRow } from '../src/message.js';
import { Rollups } from '../src/rollups.js';
import { BUCKET_MS, BUCKET_SLICES, buildRollups, SLICE_MS } from '../src/sql/rollups.js';
import { backendsUnderTest, onDatabase, pgRows, type TestTarget } from './backends.js';
import { rng } from './random.js';

const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
const HOUR = 3_600_000;
/** An hour-aligned time in the past: the bucket the test's clock opens first. */
const BASE = Date.parse('2026-06-01T00:00:00.000Z');
const BUCKET = BASE / BUCKET_MS;
const iso = (ms: number) => new Date(ms).toISOString();

for (const backendUnderTest of backendsUnderTest()) {
  describe(`rollups of the open bucket on ${backendUnderTest.name}`, () => {
    let target: TestTarget;
    let backend: Backend;
    let clock: number;
    let rollups: Rollups;
    let next = 0;
    const r = rng(17);

    beforeEach(async () => {
      target = await backendUnderTest.fresh();
      backend =
        backendUnderTest.name === 'duckdb'
          ? await DuckDbBackend.open(target.url, undefined, 1)
          : await PostgresBackend.open(target.url);
      await backend.migrate();
      rollups = new Rollups(backend, () => clock);
    });
    /** Directories of DuckDB files a test made, removed after it. */
    const dirs: string[] = [];
    afterEach(async () => {
      await backend.close();
      await target.drop();
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    });

    /** `count` rows received at random times in [from, to), a `cpu` field of many values. */
    function rows(count: number, from: number, to: number): StoredRow[] {
      return Array.from({ length: count }, () => {
        const id = `m${next++}`;
        return toStoredRow({
          id,
          deviceId: `dev-${next % 13}`,
          registry: REGISTRY,
          kind: 'event',
          receivedAt: from + Math.floor(r() * (to - from)),
          artifactName: r() < 0.5 ? 'r-1' : 'r-2',
          payload: { cpu: Math.round(r() * 10_000) / 100 },
        });
      });
    }

    /** The samples' own figures: percentile_cont over the window, per release. */
    async function reference(from: number, to: number): Promise<ReleaseAggregate[]> {
      const got = await backend.query(
        `select artifact_name as release, count(*) as count, avg(value) as mean,
          percentile_cont(0.5) within group (order by value) as p50,
          percentile_cont(0.95) within group (order by value) as p95, max(value) as max
        from telemetry_metrics where name = 'cpu' and received_at >= cast($1 as timestamptz)
          and received_at < cast($2 as timestamptz)
        group by artifact_name order by artifact_name`,
        [iso(from), iso(to)],
      );
      return got.map((g) => ({
        release: String(g.release),
        count: Number(g.count),
        mean: Number(g.mean),
        p50: Number(g.p50),
        p95: Number(g.p95),
        max: Number(g.max),
      }));
    }

    /** The window's figures through the rollups, which must be the samples' own. */
    async function expectExact(from: number, to: number): Promise<ReleaseAggregate[]> {
      const got = await rollups.releaseAggregates('cpu', { from: iso(from), to: iso(to) });
      expect(got, 'read through the rollups').toBeDefined();
      const want = await reference(from, to);
      const strip = (a: ReleaseAggregate) => ({ ...a, mean: 0 });
      expect((got ?? []).map(strip)).toEqual(want.map(strip));
      for (const [i, g] of (got ?? []).entries())
        expect(Math.abs((g.mean ?? 0) - (want[i]?.mean ?? 0))).toBeLessThanOrEqual(1e-9);
      return got ?? [];
    }

    /** Samples the 5-minute rollups of `bucket` count, and their rows. */
    async function rolledUp(bucket: number): Promise<{ n: number; rows: number }> {
      const [row] = await backend.query(
        `select coalesce(sum(n), 0) as n, count(*) as rows from telemetry_rollups
        where name = 'cpu' and not hourly and bucket = $1`,
        [bucket],
      );
      return { n: Number(row?.n), rows: Number(row?.rows) };
    }

    const samplesIn = async (from: number, to: number) =>
      (await reference(from, to)).reduce((sum, g) => sum + g.count, 0);
    const state = async () => {
      const got = await backend.query('select id, watermark from telemetry_rollup_state order by id', []);
      return got.map((g) => Number(g.watermark));
    };

    it('reads the rolled slices of the open bucket from its rollups, the last ones from the samples, exactly', async () => {
      const from = BASE - 3 * HOUR - 7 * 60_000;
      const to = BASE + 2 * HOUR;
      await backend.write(rows(800, BASE - 3 * HOUR, BASE + 150_000));
      // 155 s into the bucket: claimed up to the slice before the current one, 140 s in.
      clock = BASE + 155_000;
      await expectExact(from, to);
      expect(await state()).toEqual([BASE / SLICE_MS + 14, BASE / SLICE_MS + 14]);
      expect((await rolledUp(BUCKET)).n).toBe(await samplesIn(BASE, BASE + 140_000));

      // More rows in the open bucket, and one written late into a slice already rolled up.
      await backend.write([
        ...rows(120, BASE + 150_000, BASE + 210_000),
        ...rows(1, BASE + 100_000, BASE + 100_001),
      ]);
      const [dirty] = await backend.query('select count(*) as n from telemetry_rollup_dirty', []);
      expect(Number(dirty?.n)).toBe(1);
      clock = BASE + 215_000;
      await expectExact(from, to);
      expect((await rolledUp(BUCKET)).n).toBe(await samplesIn(BASE, BASE + 200_000));
      const [left] = await backend.query('select count(*) as n from telemetry_rollup_dirty', []);
      expect(Number(left?.n)).toBe(0);

      // The bucket closes; the next one is rolled up to its 5th slice.
      await backend.write(rows(90, BASE + 210_000, BASE + 345_000));
      clock = BASE + 362_000;
      await expectExact(from, to);
      expect((await rolledUp(BUCKET)).n).toBe(await samplesIn(BASE, BASE + BUCKET_MS));
      expect((await rolledUp(BUCKET + 1)).n).toBe(await samplesIn(BASE + BUCKET_MS, BASE + 350_000));
      // A window ending inside the rolled part reads that bucket from the samples.
      await expectExact(from, BASE + 320_000);

      // The rollups answer for the rolled part of the open bucket: a sample added to them (a
      // value far above the others, in its own class) is in the answer.
      const before = await rollups.aggregate('cpu', { from: iso(from), to: iso(to) });
      const big = 1e6;
      await backend.query(
        `insert into telemetry_rollups (name, artifact_name, registry, kind, hourly, bucket, value_class, n, s, mn, mx, vals)
        values ('cpu', 'r-1', $1, 'event', false, $2, ${200_000 + Math.floor(Math.log(big) * 100)}, 1, $3, $3, $3,
          array[cast($3 as double precision)])`,
        [REGISTRY, BUCKET + 1, big],
      );
      const after = await rollups.aggregate('cpu', { from: iso(from), to: iso(to) });
      expect(after).toMatchObject({ count: (before?.count ?? 0) + 1, max: big });
    });

    it('adds each slice once, and builds the hour when its last slice is rolled up', async () => {
      await backend.write(rows(400, BASE, BASE + HOUR));
      // Roll-ups every slice through the hour: each adds only the slice that closed.
      for (let t = BASE + 20_000; t <= BASE + HOUR + 20_000; t += 4 * SLICE_MS + 3_000) {
        clock = t;
        await rollups.roll();
      }
      clock = BASE + HOUR + 25_000;
      await rollups.roll();
      let total = 0;
      for (let b = BUCKET; b < BUCKET + 12; b++) total += (await rolledUp(b)).n;
      expect(total).toBe(400);
      const [hour] = await backend.query(
        `select coalesce(sum(n), 0) as n from telemetry_rollups where name = 'cpu' and hourly and bucket = $1`,
        [BUCKET],
      );
      expect(Number(hour?.n)).toBe(400);
      await expectExact(BASE - 30_000, BASE + 2 * HOUR);
      // The watermarks only ever stand on a slice edge.
      const [claimed, rolled] = await state();
      expect([claimed, rolled]).toEqual([
        (BASE + HOUR + 20_000) / SLICE_MS - 1,
        (BASE + HOUR + 20_000) / SLICE_MS - 1,
      ]);
    });

    if (backendUnderTest.name === 'postgres') {
      it('adds a short range through the (name, time) index, not by scanning every sample', async () => {
        for (let i = 0; i < 10; i++) await backend.write(rows(2000, BASE - 30 * 24 * HOUR, BASE));
        await backend.query('analyze telemetry_metrics', []);
        const build = buildRollups(iso(BASE - 20_000), iso(BASE - 10_000), true);
        const plan = await pgRows(
          target.url,
          `explain ${build.text.replace('$1', `'${build.params[0]}'`).replace('$2', `'${build.params[1]}'`)}`,
        );
        const text = plan.map((p) => String(p['QUERY PLAN'])).join('\n');
        expect(text).toMatch(/Index (Only )?Scan using telemetry_metrics_name_/);
        expect(text).not.toMatch(/Seq Scan on telemetry_metrics/);
      });
    }

    it('brings the watermarks of a store of schema version 4 to slices, its rollups kept', async () => {
      await backend.close();
      let url = target.url;
      if (backendUnderTest.name === 'duckdb') {
        const dir = mkdtempSync(join(tmpdir(), 'otakit-slices-'));
        dirs.push(dir);
        url = join(dir, 't.duckdb');
      }
      const store = await openTelemetryStore(url, { rollUpIntervalMs: 0 });
      const messages = rows(300, BASE - 5 * HOUR, BASE - HOUR).map((row) => ({
        id: row.id,
        deviceId: row.deviceId,
        registry: row.registry,
        kind: row.kind,
        receivedAt: row.receivedAt,
        artifactName: row.artifactName ?? undefined,
        payload: Object.fromEntries(row.metrics),
      }));
      await store.appendBatch(messages);
      const window = { metric: 'cpu', from: BASE - 6 * HOUR, to: BASE };
      const answer = await store.releaseAggregates(window);
      await store.close();
      // Back to what version 4 left: the same watermarks as bucket numbers.
      const v4 = `update telemetry_rollup_state set watermark = cast(floor(watermark / ${BUCKET_SLICES}.0) as bigint);
        delete from telemetry_schema_version where version = 5`;
      let stored: number[];
      if (backendUnderTest.name === 'postgres') {
        await onDatabase(url, v4);
        stored = (await pgRows(url, 'select watermark from telemetry_rollup_state order by id')).map((g) =>
          Number(g.watermark),
        );
      } else {
        const db = await DuckDbBackend.open(url, undefined, 1);
        await db.query(v4, []);
        stored = (await db.query('select watermark from telemetry_rollup_state order by id', [])).map((g) =>
          Number(g.watermark),
        );
        await db.close();
      }
      expect(stored[1]).toBeGreaterThan(0);
      const again = await openTelemetryStore(url, { rollUpIntervalMs: 0 });
      try {
        expect(await again.releaseAggregates(window)).toEqual(answer);
      } finally {
        await again.close();
      }
      backend =
        backendUnderTest.name === 'duckdb'
          ? await DuckDbBackend.open(url, undefined, 1)
          : await PostgresBackend.open(url);
      // Version 5 multiplied them back (a read since has moved them on, from there).
      const [claimed, rolled] = await state();
      expect(rolled).toBeGreaterThanOrEqual((stored[1] as number) * BUCKET_SLICES);
      expect(claimed).toBeGreaterThanOrEqual(rolled as number);
      expect((claimed as number) - Math.floor(Date.now() / SLICE_MS)).toBeLessThanOrEqual(0);
    });
  });
}
