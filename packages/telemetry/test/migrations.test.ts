/**
 * Upgrades of a stored schema: a database built by the released migrations up to a version, holding
 * rows written the way that version wrote them, opened by the store of today.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTelemetryStore } from '@otakit/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbBackend } from '../src/backends/duckdb.js';
import { CREATE_VERSION_TABLE, MIGRATIONS, migrationStatements } from '../src/sql/migrations.js';
import { backendsUnderTest, pgRows, type TestTarget } from './backends.js';

const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
const T0 = Date.parse('2026-06-01T12:00:00.000Z');

for (const backend of backendsUnderTest()) {
  describe(`schema upgrades on ${backend.name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** A target that outlives a close (a file for DuckDB), and a way to run SQL on it with no store open. */
    async function target(): Promise<{ url: string; sql(text: string): Promise<Record<string, unknown>[]> }> {
      if (backend.name === 'postgres') {
        const t: TestTarget = await backend.fresh();
        cleanups.push(() => t.drop());
        return { url: t.url, sql: (text) => pgRows(t.url, text) };
      }
      const dir = mkdtempSync(join(tmpdir(), 'otakit-telemetry-migrations-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      const url = join(dir, 't.duckdb');
      return {
        url,
        sql: async (text) => {
          const db = await DuckDbBackend.open(url, undefined, 1);
          try {
            return await db.query(text, []);
          } finally {
            await db.close();
          }
        },
      };
    }

    it('brings a version 5 store to the newest: numeric fields without their message id nor (PostgreSQL) an index by device, the rows and answers kept', async () => {
      const t = await target();
      // Version 5 as its migrations built it.
      await t.sql(CREATE_VERSION_TABLE);
      for (const m of MIGRATIONS.filter((m) => m.version <= 5)) {
        for (const s of migrationStatements(m, backend.name)) await t.sql(s);
        await t.sql(`insert into telemetry_schema_version values (${m.version}, now())`);
      }
      const at = `cast('${new Date(T0).toISOString()}' as timestamptz)`;
      // A message written as version 5 wrote it: its numeric field repeats the message's id.
      await t.sql(`insert into telemetry_messages values ('old-1', 'pi-1', '${REGISTRY}', ${at}, 'event', '',
        'r1', '1.0', null, '{"cpu":1}', null, 'json', '{"cpu":1}')`);
      await t.sql(
        `insert into telemetry_metrics values ('old-1', 'pi-1', '${REGISTRY}', ${at}, 'event', 'r1', 'cpu', 1)`,
      );
      expect((await t.sql('select message_id from telemetry_metrics')).map((r) => r.message_id)).toEqual([
        'old-1',
      ]);

      const store = await openTelemetryStore(t.url, { rollUpIntervalMs: 0 });
      try {
        // The old row answers, and a new message is written without the dropped column.
        expect(
          (
            await store.append({
              id: 'new-1',
              deviceId: 'pi-2',
              registry: REGISTRY,
              kind: 'event',
              receivedAt: T0 + 1000,
              artifactName: 'r1',
              payload: { cpu: 3 },
            })
          ).duplicate,
        ).toBe(false);
        const [r1, ...others] = await store.releaseAggregates({
          metric: 'cpu',
          from: T0 - 60_000,
          to: T0 + 60_000,
        });
        expect(others).toEqual([]);
        expect(r1).toMatchObject({ release: 'r1', count: 2, mean: 2, p50: 2, max: 3 });
        expect(r1?.p95).toBeCloseTo(2.9, 12);
        // A device set's window (on PostgreSQL read from the messages since version 7): the old
        // message's field as the new one's.
        for (const [device, value] of [
          ['pi-1', 1],
          ['pi-2', 3],
        ] as const) {
          expect(
            await store.aggregate({ metric: 'cpu', deviceIds: [device], from: T0 - 60_000 }),
          ).toMatchObject({
            count: 1,
            mean: value,
            max: value,
          });
        }
        expect((await store.latest()).map((r) => [r.id, r.metrics])).toEqual([
          ['old-1', { cpu: 1 }],
          ['new-1', { cpu: 3 }],
        ]);
      } finally {
        await store.close();
      }
      const versions = await t.sql('select version from telemetry_schema_version order by version');
      expect(versions.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6, 7]);
      if (backend.name === 'postgres') {
        const indexes = await t.sql(`select indexname from pg_indexes where tablename = 'telemetry_metrics'`);
        expect(indexes.map((r) => r.indexname)).toEqual(['telemetry_metrics_name_time_release_value']);
      }
      const columns = await t.sql(`select column_name from information_schema.columns
        where table_name = 'telemetry_metrics' order by ordinal_position`);
      expect(columns.map((r) => r.column_name)).toEqual([
        'device_id',
        'registry',
        'received_at',
        'kind',
        'artifact_name',
        'name',
        'value',
      ]);
      expect(
        (await t.sql('select device_id, value from telemetry_metrics order by device_id')).map((r) => [
          r.device_id,
          Number(r.value),
        ]),
      ).toEqual([
        ['pi-1', 1],
        ['pi-2', 3],
      ]);
    });
  });
}
