/**
 * The DuckDB backend's three ways of writing a batch (src/backends/duckdb.ts): direct appends to
 * the store's tables, a staged insert that lets DuckDB check the JSON texts, and the checked insert
 * after a refused id. Each must store the same rows, mark the same dirty buckets and store an id
 * once; and the direct way must only take JSON texts DuckDB accepts, as it does not check them.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTelemetryStore, type TelemetryMessage } from '@otakit/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDbBackend } from '../src/backends/duckdb.js';
import { appendsAsJson } from '../src/backends/duckdb-json.js';
import { type StoredRow, toStoredRow } from '../src/message.js';
import {
  BUCKET_MS,
  BUCKET_OF_ROW,
  bucketOfMs,
  CLAIM,
  SLICE_MS,
  SLICE_OF_ROW,
  sliceOfMs,
} from '../src/sql/rollups.js';
import { rng } from './random.js';

const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
const BASE = Date.parse('2026-06-01T00:00:00.000Z');

function row(id: string, over: Partial<TelemetryMessage> = {}): StoredRow {
  return toStoredRow({
    id,
    deviceId: `dev-${id}`,
    registry: REGISTRY,
    kind: 'event',
    receivedAt: BASE,
    artifactName: 'r-1',
    payload: { cpu: 0.5, temp: 40.25, nested: { v: -3 } },
    ...over,
  });
}

const MESSAGE_COLUMNS = `id, device_id, registry, epoch_us(received_at) as at, kind, subfolder, artifact_name,
  software_version, deployment_id, cast(payload as varchar) as payload, payload_raw, payload_encoding,
  cast(metrics as varchar) as metrics`;
const METRIC_COLUMNS = `device_id, registry, epoch_us(received_at) as at, kind, artifact_name, name, value`;

describe('DuckDB writes', () => {
  let backend: DuckDbBackend;
  beforeEach(async () => {
    backend = await DuckDbBackend.open(':memory:', undefined, 1);
    await backend.migrate();
  });
  afterEach(async () => {
    await backend.close();
  });

  const dump = async () => ({
    messages: await backend.query(`select ${MESSAGE_COLUMNS} from telemetry_messages order by id`, []),
    metrics: await backend.query(
      `select ${METRIC_COLUMNS} from telemetry_metrics order by device_id, name`,
      [],
    ),
    dirty: (
      await backend.query('select distinct bucket from telemetry_rollup_dirty order by bucket', [])
    ).map((r) => Number(r.bucket)),
  });

  it('writes an ordinary batch directly, storing what the staged insert stores', async () => {
    const rows = Array.from({ length: 300 }, (_, i) =>
      row(`m${String(i).padStart(3, '0')}`, {
        receivedAt: BASE + i * 997.5,
        subfolder: i % 2 ? 'metrics' : '',
        softwareVersion: i % 3 ? '1.2.3' : undefined,
        deploymentId: i % 5 ? undefined : 'dep-1',
        payload: i % 7 ? { cpu: i / 300, seq: i, name: `x${i}` } : `not json ${i}`,
      }),
    );
    expect(await backend.write(rows)).toEqual(new Set(rows.map((r) => r.id)));
    expect(backend.writes).toEqual({ direct: 1, staged: 0, checked: 0 });
    const direct = await dump();
    expect(direct.messages).toHaveLength(300);
    expect(direct.metrics.length).toBe(rows.reduce((n, r) => n + r.metrics.length, 0));

    // The same rows through the staged way: a surrogate escape in one more row sends the batch
    // there. A lone one DuckDB refuses, so that batch fails as a whole (the staged insert, then the
    // checked one) and stores nothing; the store then keeps that payload raw (see below).
    const other = await DuckDbBackend.open(':memory:', undefined, 1);
    try {
      await other.migrate();
      const lone = row('z-lone', { payload: '{"note":"\\ud800"}' });
      expect(appendsAsJson(lone)).toBe(false);
      await expect(other.write([...rows, lone])).rejects.toThrow();
      expect(other.writes).toEqual({ direct: 0, staged: 0, checked: 1 });
      expect(await other.query('select count(*) as n from telemetry_messages', [])).toEqual([{ n: 0n }]);
      // A valid pair DuckDB accepts: the batch is stored the staged way, as the direct way stored it.
      const pair = row('z-pair', { payload: '{"note":"\\ud83d\\ude00","cpu":1}' });
      expect(appendsAsJson(pair)).toBe(false);
      expect(await other.write([...rows, pair])).toEqual(new Set([...rows, pair].map((r) => r.id)));
      expect(other.writes).toEqual({ direct: 0, staged: 1, checked: 1 });
      const messages = await other.query(`select ${MESSAGE_COLUMNS} from telemetry_messages order by id`, []);
      const metrics = (
        await other.query(`select ${METRIC_COLUMNS} from telemetry_metrics order by device_id, name`, [])
      ).filter((m) => m.device_id !== 'dev-z-pair');
      expect(messages.at(-1)?.id).toBe('z-pair');
      expect(messages.slice(0, 300)).toEqual(direct.messages);
      expect(metrics).toEqual(direct.metrics);
    } finally {
      await other.close();
    }
  });

  it('stores each id once when a batch holds a stored one, through the checked insert', async () => {
    await backend.write([row('a'), row('b')]);
    const second = await backend.write([row('b', { payload: { cpu: 9 } }), row('c')]);
    expect(second).toEqual(new Set(['c']));
    expect(backend.writes).toEqual({ direct: 1, staged: 0, checked: 1 });
    const { messages, metrics } = await dump();
    expect(messages.map((m) => m.id)).toEqual(['a', 'b', 'c']);
    // b's numeric fields are the first copy's, once.
    expect(metrics.filter((m) => m.device_id === 'dev-b' && m.name === 'cpu').map((m) => m.value)).toEqual([
      0.5,
    ]);
    // The direct way still serves the next batch (its appenders were replaced after the refusal).
    expect(await backend.write([row('d')])).toEqual(new Set(['d']));
    expect(backend.writes.direct).toBe(2);
  });

  it('marks the buckets of rows below the claimed slice dirty, reading the watermark again after a claim', async () => {
    const bucket = (ms: number) => Math.floor(ms / BUCKET_MS);
    // The claimed watermark is a slice number.
    const claimAt = async (ms: number) =>
      backend.excludingWriters((q) => q(CLAIM, [Math.floor(ms / SLICE_MS)]));
    await backend.write([row('early', { receivedAt: BASE })]);
    expect((await dump()).dirty).toEqual([]);
    // Claimed up to the 7th slice of bucket 10.
    const claim = BASE + 10 * BUCKET_MS + 6 * SLICE_MS;
    await claimAt(claim);
    // Below the watermark: the row's bucket is dirty, the open one too. At it and after: not.
    await backend.write([
      row('late-1', { receivedAt: BASE + 2 * BUCKET_MS + 1 }),
      row('late-2', { receivedAt: BASE + 2 * BUCKET_MS + 5 }),
      row('late-3', { receivedAt: BASE + 9 * BUCKET_MS + 299_999.999 }),
      row('open', { receivedAt: claim }),
      row('open-later', { receivedAt: claim + 2 * BUCKET_MS }),
    ]);
    expect((await dump()).dirty).toEqual([bucket(BASE) + 2, bucket(BASE) + 9]);
    await backend.write([row('open-late', { receivedAt: claim - 0.001 })]);
    expect((await dump()).dirty).toEqual([bucket(BASE) + 2, bucket(BASE) + 9, bucket(BASE) + 10]);
    await claimAt(BASE + 20 * BUCKET_MS);
    await backend.write([row('now-late', { receivedAt: BASE + 15 * BUCKET_MS })]);
    expect((await dump()).dirty).toEqual([
      bucket(BASE) + 2,
      bucket(BASE) + 9,
      bucket(BASE) + 10,
      bucket(BASE) + 15,
    ]);
    expect(backend.writes.direct).toBe(4);
  });

  it('computes the bucket and the slice of a row as DuckDB does, at the edges of buckets and slices and before 1970', async () => {
    const times = [
      BASE,
      BASE + SLICE_MS,
      BASE + SLICE_MS - 0.001,
      BASE + 7 * SLICE_MS - 0.0004,
      -SLICE_MS - 0.001,
      BASE - 0.001,
      BASE + 0.001,
      BASE + BUCKET_MS - 0.001,
      BASE + BUCKET_MS - 0.0004,
      BASE + BUCKET_MS - 0.0006,
      0,
      -0.001,
      -1,
      -BUCKET_MS,
      -BUCKET_MS - 0.001,
      1.5,
      Date.parse('1969-12-31T23:59:59.9995Z'),
    ];
    await backend.write(times.map((t, i) => row(`t${i}`, { receivedAt: t })));
    const got = await backend.query(
      `select id, ${BUCKET_OF_ROW} as bucket, ${SLICE_OF_ROW} as slice from telemetry_messages`,
      [],
    );
    const byId = new Map(got.map((r) => [String(r.id), [Number(r.bucket), Number(r.slice)]]));
    for (const [i, t] of times.entries())
      expect([t, bucketOfMs(t), sliceOfMs(t)]).toEqual([t, ...(byId.get(`t${i}`) ?? [])]);
  });
});

describe('DuckDB checkpoints', () => {
  it('moves the log into the file at 64 MB, not at DuckDB default of 16 MB, and a process killed with ~30 MB of log loses no acknowledged message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otakit-telemetry-wal-'));
    try {
      const file = join(dir, 't.duckdb');
      const backend = await DuckDbBackend.open(file, undefined, 1);
      const [setting] = await backend.query(`select current_setting('checkpoint_threshold') as t`, []);
      expect(String(setting?.t)).toBe('61.0 MiB'); // 64 MB
      await backend.close();
      // A store in a process of its own: ~30 MB of payloads (past 16 MB, short of 64 MB) in
      // batches, each acknowledged (appendBatch resolved); then the process is killed, no close.
      const script = `import { statSync } from 'node:fs';
        import { openTelemetryStore } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.ts'))};
        const store = await openTelemetryStore(${JSON.stringify(file)}, { rollUpIntervalMs: 0 });
        const big = 'x'.repeat(100_000);
        for (let b = 0; b < 10; b++) {
          await store.appendBatch(Array.from({ length: 30 }, (_, i) => ({ id: 'w' + b + '-' + i,
            deviceId: 'd' + i, registry: ${JSON.stringify(REGISTRY)}, kind: 'event',
            payload: { cpu: i, note: big } })));
        }
        console.log(statSync(${JSON.stringify(`${file}.wal`)}).size);
        process.kill(process.pid, 'SIGKILL');`;
      const { signal, stdout } = await new Promise<{ signal: string | null; stdout: string }>((done) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          { cwd: join(import.meta.dirname, '..', '..', '..') },
          (err, out) => done({ signal: (err as { signal?: string } | null)?.signal ?? null, stdout: out }),
        ),
      );
      expect(signal).toBe('SIGKILL');
      // All of it still in the log when the process died: the reopen replays it.
      expect(Number(stdout.trim())).toBeGreaterThan(24 * 2 ** 20);
      const again = await DuckDbBackend.open(file, undefined, 1);
      try {
        expect(await again.query('select count(*) as n from telemetry_messages', [])).toEqual([{ n: 300n }]);
        expect(await again.query('select count(*) as n from telemetry_metrics', [])).toEqual([{ n: 300n }]);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('JSON texts appended without DuckDB checking them', () => {
  /** Random JSON text: nesting, numbers at the edges, strings with every kind of escape. */
  function randomJson(r: () => number, depth = 0): string {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const string = (): string => {
      let s = '"';
      const n = Math.floor(r() * 8);
      for (let i = 0; i < n; i++) {
        s += pick([
          () => 'a',
          () => ' ',
          () => pick(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t']),
          () =>
            `\\u${Math.floor(r() * 0x10000)
              .toString(16)
              .padStart(4, '0')}`,
          () => `\\u${pick(['D83D', 'd83d'])}\\u${pick(['DE00', 'de00'])}`,
          () => pick(['é', '€', '😀', '\u0085', '\u2028', '\u00ff', '\u07ff', '\uffff']),
        ])();
      }
      return `${s}"`;
    };
    const number = (): string =>
      pick([
        '0',
        '-0',
        '1e400',
        '-1e-400',
        '1E+2',
        '0.000001',
        '123456789012345678901234567890',
        '1.5e308',
        '-7',
      ]);
    if (depth > 3 || r() < 0.4) return pick([string, number, () => pick(['true', 'false', 'null'])])();
    const ws = () => pick(['', ' ', '\n', '\t', '\r\n ']);
    const n = Math.floor(r() * 4);
    if (r() < 0.5) {
      const items = Array.from({ length: n }, () => `${ws()}${randomJson(r, depth + 1)}${ws()}`);
      return `[${items.join(',')}]`;
    }
    const items = Array.from({ length: n }, () => `${ws()}${string()}${ws()}:${randomJson(r, depth + 1)}`);
    return `{${items.join(',')}}`;
  }

  it('takes only texts DuckDB accepts as JSON (1,500 random texts and the known edge cases)', async () => {
    const r = rng(20261205);
    const texts = [
      '{"a":"\\ud800"}',
      '{"a":"\\udc00x"}',
      '["\\uD83D\\uDE00"]',
      `[${'['.repeat(2000)}${']'.repeat(2000)}]`,
      '{"__proto__":1,"a":{"\\ud800":2}}',
      '1e400',
      '"x"',
      ...Array.from({ length: 1500 }, () => randomJson(r)),
    ];
    const backend = await DuckDbBackend.open(':memory:', undefined, 1);
    try {
      let taken = 0;
      for (const text of texts) {
        const stored = toStoredRow({
          id: 'x',
          deviceId: 'd',
          registry: REGISTRY,
          kind: 'event',
          payload: text,
        });
        if (stored.payloadJson === null || !appendsAsJson(stored)) continue;
        taken++;
        const metricsText = JSON.stringify(Object.fromEntries(stored.metrics));
        const [res] = await backend.query('select json_valid($1) as payload, json_valid($2) as metrics', [
          stored.payloadJson,
          metricsText,
        ]);
        expect([text, res?.payload, res?.metrics]).toEqual([text, true, true]);
      }
      // The screen passes most of them (a surrogate escape is rare in random text too).
      expect(taken).toBeGreaterThan(texts.length / 2);
    } finally {
      await backend.close();
    }
  });

  it('stores a payload with a lone surrogate escape raw, and reads over it still run', async () => {
    const store = await openTelemetryStore(':memory:');
    try {
      await store.appendBatch([
        {
          id: 'ok',
          deviceId: 'd1',
          registry: REGISTRY,
          kind: 'event',
          payload: { cpu: 1 },
          artifactName: 'r-1',
        },
        {
          id: 'odd',
          deviceId: 'd2',
          registry: REGISTRY,
          kind: 'event',
          payload: '{"cpu":2,"n":"\\ud800"}',
          artifactName: 'r-1',
        },
      ]);
      const stored = await store.messages({});
      const odd = stored.find((m) => m.id === 'odd');
      expect(odd?.payloadEncoding).toBe('utf8');
      expect(odd?.payloadRaw).toBe('{"cpu":2,"n":"\\ud800"}');
      // Its numeric fields were read by JSON.parse and are stored as the other message's are.
      const [agg] = await store.releaseAggregates({ metric: 'cpu' });
      expect([agg?.count, agg?.max]).toEqual([2, 2]);
    } finally {
      await store.close();
    }
  });
});
