import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  openTelemetryStore,
  type ReleaseAggregate,
  releaseHealthSource,
  storeSink,
  TelemetryBackpressureError,
  TelemetryClosedError,
  type TelemetryMessage,
  TelemetryOpenError,
  type TelemetryStore,
  TelemetryValidationError,
  TelemetryWriteError,
} from '@otakit/telemetry';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DuckDbBackend } from '../src/backends/duckdb.js';
import { defaultDuckDbThreads } from '../src/options.js';
import { backendsUnderTest, onDatabase, pgRows, type TestTarget } from './backends.js';

const REGISTRY = 'projects/demo/locations/europe-west1/registries/fleet';
const T0 = Date.parse('2026-06-01T12:00:00.000Z');

function msg(
  over: Partial<TelemetryMessage> & { payload?: TelemetryMessage['payload'] } = {},
): TelemetryMessage {
  return {
    deviceId: 'pi-1',
    registry: REGISTRY,
    kind: 'event',
    receivedAt: T0,
    payload: '{"cpu":0.5}',
    ...over,
  };
}

/** The p-th percentile with linear interpolation, as percentile_cont computes it. */
function percentileCont(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const rank = p * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (rank - lo);
}

for (const backend of backendsUnderTest()) {
  describe(`telemetry store on ${backend.name}`, () => {
    let target: TestTarget;
    let store: TelemetryStore;
    beforeEach(async () => {
      target = await backend.fresh();
      store = await openTelemetryStore(target.url);
    });
    afterEach(async () => {
      await store.close();
      await target.drop();
    });

    it('keeps one row for a bridge message handed over twice with the same message id', async () => {
      const sink = storeSink(store);
      const record = {
        projectId: 'demo',
        location: 'europe-west1',
        registryId: 'fleet',
        deviceId: 'pi-1',
        kind: 'event' as const,
        receivedAt: new Date(T0),
        payload: Buffer.from('{"cpu":0.5}'),
        messageId: 'a1b2',
      };
      await sink.write(record);
      await sink.write({ ...record, receivedAt: new Date(T0 + 1000) });
      await sink.write({ ...record, messageId: 'c3d4' });
      expect(await store.count()).toBe(2);
      const [row] = await store.latest();
      expect(row?.id).toMatch(/^iot-core:(a1b2|c3d4)$/);
      expect(row?.registry).toBe(REGISTRY);
    });

    it('stores a message once it resolves, with the release fields taken from its payload', async () => {
      const payload = JSON.stringify({
        artifact_name: 'release-1',
        software_version: '1.0.0',
        deployment_id: 'dep-7',
        cpu: 0.25,
        mem: { free: 1024, total: 4096 },
        label: 'x',
      });
      const result = await store.append(msg({ id: 'm-1', subfolder: 'metrics', payload }));
      expect(result).toEqual({ id: 'm-1', duplicate: false });
      const [row] = await store.latest();
      expect(row).toEqual({
        id: 'm-1',
        deviceId: 'pi-1',
        registry: REGISTRY,
        receivedAt: new Date(T0).toISOString(),
        kind: 'event',
        subfolder: 'metrics',
        artifactName: 'release-1',
        softwareVersion: '1.0.0',
        deploymentId: 'dep-7',
        payload: JSON.parse(payload),
        payloadRaw: null,
        payloadEncoding: 'json',
        metrics: { cpu: 0.25, 'mem.free': 1024, 'mem.total': 4096 },
      });
    });

    it('lets explicit release fields win over the payload', async () => {
      await store.append(
        msg({
          artifactName: 'release-2',
          softwareVersion: '2.0',
          payload: { artifact_name: 'release-1', cpu: 1 },
        }),
      );
      const [row] = await store.latest();
      expect(row?.artifactName).toBe('release-2');
      expect(row?.softwareVersion).toBe('2.0');
      expect(row?.deploymentId).toBeNull();
    });

    it('stores malformed JSON raw instead of dropping it, and bytes that are not UTF-8 as base64', async () => {
      await store.append(msg({ id: 'bad-json', deviceId: 'a', payload: '{"cpu": 0.5,' }));
      await store.append(
        msg({ id: 'bad-utf8', deviceId: 'b', payload: new Uint8Array([0xff, 0xfe, 0x00, 0x41]) }),
      );
      await store.append(msg({ id: 'nul-escape', deviceId: 'c', payload: '{"s":"a\\u0000b"}' }));
      const rows = await store.latest();
      expect(rows.map((r) => [r.deviceId, r.payloadEncoding, r.payload, r.payloadRaw, r.metrics])).toEqual([
        ['a', 'utf8', null, '{"cpu": 0.5,', {}],
        ['b', 'base64', null, Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('base64'), {}],
        // PostgreSQL's jsonb refuses \u0000, so both backends keep such a payload raw.
        ['c', 'utf8', null, '{"s":"a\\u0000b"}', {}],
      ]);
    });

    it('stores text with lone UTF-16 surrogates (no UTF-8 form) with U+FFFD in their place', async () => {
      // A JS string payload, a device id, and JSON escapes of a lone surrogate in a key and a value.
      await store.append(msg({ id: 'lone-1', deviceId: 'd-\ud800', payload: 'raw \udc00 text' }));
      await store.append(msg({ id: 'lone-2', deviceId: 'e', payload: '{"\\ud800k": 1, "a": "\\udc00"}' }));
      const rows = await store.latest();
      expect(rows.map((r) => [r.deviceId, r.payloadEncoding, r.payloadRaw, r.metrics])).toEqual([
        ['d-\ufffd', 'utf8', 'raw \ufffd text', {}],
        // Neither database accepts such JSON escapes: kept raw, the metric name made well-formed.
        ['e', 'utf8', '{"\\ud800k": 1, "a": "\\udc00"}', { '\ufffdk': 1 }],
      ]);
    });

    it('keeps __proto__, constructor and prototype as ordinary keys of payloads and metrics', async () => {
      const payload = '{"__proto__":{"polluted":1},"constructor":2,"prototype":{"x":3},"cpu":4}';
      await store.append(msg({ artifactName: 'r1', payload }));
      const [row] = await store.latest();
      const stored = row?.payload as Record<string, unknown>;
      expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
      expect(Object.hasOwn(stored, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(stored, '__proto__')?.value).toEqual({ polluted: 1 });
      expect(stored.constructor).toBe(2);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const metrics = row?.metrics as Record<string, number>;
      expect(Object.keys(metrics).sort()).toEqual([
        '__proto__.polluted',
        'constructor',
        'cpu',
        'prototype.x',
      ]);
      const [agg] = await store.releaseAggregates({ metric: '__proto__.polluted' });
      expect(agg).toMatchObject({ release: 'r1', count: 1, max: 1 });
    });

    it('stores each message id once, across appends and within one batch', async () => {
      const first = await store.append(msg({ id: 'dup', payload: '{"cpu":1}' }));
      const again = await store.append(msg({ id: 'dup', payload: '{"cpu":100}' }));
      const batch = await store.appendBatch([
        msg({ id: 'b1', payload: '{"cpu":2}' }),
        msg({ id: 'b1', payload: '{"cpu":200}' }),
        msg({ id: 'dup', payload: '{"cpu":300}' }),
      ]);
      expect(first.duplicate).toBe(false);
      expect(again.duplicate).toBe(true);
      expect(batch.map((r) => r.duplicate)).toEqual([false, true, true]);
      expect(await store.count()).toBe(2);
      const [agg] = await store.releaseAggregates({ metric: 'cpu' });
      expect(agg).toMatchObject({ count: 2, max: 2, mean: 1.5 });
    });

    it('stores each id once when batches are written at once, an id in two of them included', async () => {
      // Small batches: on PostgreSQL two are written at once, on two connections.
      const small = await openTelemetryStore(target.url, { maxBatch: 40 });
      try {
        const ids = Array.from({ length: 1200 }, (_, i) => `c-${i % 900}`);
        const results = await Promise.all(
          ids.map((id, i) => small.append(msg({ id, deviceId: `d-${i % 30}`, payload: { cpu: i } }))),
        );
        const stored = new Map<string, number>();
        for (const r of results) if (!r.duplicate) stored.set(r.id, (stored.get(r.id) ?? 0) + 1);
        expect(stored.size).toBe(900);
        expect([...stored.values()].every((n) => n === 1)).toBe(true);
        expect(await small.count()).toBe(900);
        const [agg] = await small.releaseAggregates({ metric: 'cpu' });
        expect(agg?.count).toBe(900);
      } finally {
        await small.close();
      }
    });

    it('returns the latest message per device, filtered by device set, registry and kind', async () => {
      const other = 'projects/demo/locations/europe-west1/registries/lab';
      await store.appendBatch([
        msg({ id: '1', deviceId: 'a', receivedAt: T0, payload: '{"n":1}' }),
        msg({ id: '2', deviceId: 'a', receivedAt: T0 + 2000, payload: '{"n":2}' }),
        msg({ id: '3', deviceId: 'a', receivedAt: T0 + 4000, kind: 'state', payload: '{"n":3}' }),
        msg({ id: '4', deviceId: 'b', receivedAt: T0 + 1000, payload: '{"n":4}' }),
        msg({ id: '5', deviceId: 'c', receivedAt: T0 + 9000, registry: other, payload: '{"n":5}' }),
      ]);
      const ids = async (q: Parameters<TelemetryStore['latest']>[0]) =>
        (await store.latest(q)).map((r) => r.id);
      expect(await ids({})).toEqual(['3', '4', '5']);
      expect(await ids({ kind: 'event' })).toEqual(['2', '4', '5']);
      expect(await ids({ deviceIds: ['a', 'c'], kind: 'event' })).toEqual(['2', '5']);
      expect(await ids({ registry: REGISTRY })).toEqual(['3', '4']);
      expect(await ids({ deviceIds: [] })).toEqual([]);
      expect(await ids({ to: T0 + 1500 })).toEqual(['1', '4']);
      expect((await store.messages({ deviceIds: ['a'], limit: 2 })).map((r) => r.id)).toEqual(['3', '2']);
    });

    it('aggregates a numeric field per release over a time window and a device set', async () => {
      const messages: TelemetryMessage[] = [];
      const expected: Record<string, number[]> = { 'release-1': [], 'release-2': [] };
      for (let i = 0; i < 40; i++) {
        const release = i % 2 === 0 ? 'release-1' : 'release-2';
        const device = `d-${i % 5}`;
        const cpu = ((i * 37) % 101) / 10;
        const inWindow = i < 30;
        messages.push(
          msg({
            id: `m-${i}`,
            deviceId: device,
            artifactName: release,
            receivedAt: inWindow ? T0 + i * 1000 : T0 + 3_600_000 + i,
            payload: { cpu, uptime: i },
          }),
        );
        if (inWindow && device !== 'd-4') expected[release]?.push(cpu);
      }
      messages.push(msg({ id: 'no-cpu', deviceId: 'd-1', artifactName: 'release-1', payload: { mem: 1 } }));
      messages.push(msg({ id: 'no-release', deviceId: 'd-2', receivedAt: T0 + 5, payload: { cpu: 9.5 } }));
      await store.appendBatch(messages);
      const result = await store.releaseAggregates({
        metric: 'cpu',
        from: new Date(T0),
        to: new Date(T0 + 60_000).toISOString(),
        deviceIds: ['d-0', 'd-1', 'd-2', 'd-3'],
      });
      expect(result.map((r) => r.release)).toEqual(['release-1', 'release-2', null]);
      for (const r of result.slice(0, 2)) {
        const values = expected[r.release as string] as number[];
        expect(r.count).toBe(values.length);
        expect(r.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
        expect(r.p50).toBeCloseTo(percentileCont(values, 0.5), 9);
        expect(r.p95).toBeCloseTo(percentileCont(values, 0.95), 9);
        expect(r.max).toBe(Math.max(...values));
      }
      expect(result[2]).toEqual({
        release: null,
        count: 1,
        mean: 9.5,
        p50: 9.5,
        p95: 9.5,
        max: 9.5,
      });
      expect(await store.releaseAggregates({ metric: 'absent' })).toEqual([]);
    });

    it('computes exact per-release percentiles over more samples than its probe reads, with few or with all-distinct values', async () => {
      // 12,500 samples: `cpu` has few distinct values (counted per value), `seq` one per sample
      // (sorted); both must give what percentile_cont gives.
      const cpu: Record<string, number[]> = { 'release-1': [], 'release-2': [], none: [] };
      const seq: Record<string, number[]> = { 'release-1': [], 'release-2': [], none: [] };
      const messages: TelemetryMessage[] = [];
      const add = (release: string, value: number) => {
        const i = messages.length;
        (cpu[release] as number[]).push(value);
        (seq[release] as number[]).push(i + 0.5);
        messages.push(
          msg({
            id: `s-${i}`,
            deviceId: `d-${i % 50}`,
            receivedAt: T0 + ((i * 7919) % 12_500),
            payload: { cpu: value, seq: i + 0.5, ...(release === 'none' ? {} : { artifact_name: release }) },
          }),
        );
      };
      // release-1: 101 distinct values in a scrambled order.
      for (let i = 0; i < 6000; i++) add('release-1', ((i * 37) % 101) / 10 - 2);
      // release-2: p95 falls between index 5699 (0.25) and 5700 (1.5), so it interpolates across values.
      for (let i = 0; i < 6000; i++) add('release-2', (i * 7) % 6000 < 5700 ? 0.25 : 1.5);
      for (let i = 0; i < 500; i++) add('none', i % 7);
      for (let start = 0; start < messages.length; start += 2500) {
        await store.appendBatch(messages.slice(start, start + 2500));
      }
      expect(percentileCont(cpu['release-2'] as number[], 0.95)).toBeCloseTo(0.3125, 12);
      const releaseOf = (i: number) => (i < 6000 ? 'release-1' : i < 12_000 ? 'release-2' : 'none');
      const first = { 'release-1': 0, 'release-2': 6000, none: 12_000 } as Record<string, number>;
      /** Each release's figures against percentile_cont over the samples of the messages `keep` keeps. */
      const expectExact = (
        result: ReleaseAggregate[],
        samples: Record<string, number[]>,
        keep: (i: number) => boolean,
      ) => {
        const expected: Record<string, number[]> = {};
        messages.forEach((_, i) => {
          if (!keep(i)) return;
          const release = releaseOf(i);
          const values = expected[release] ?? [];
          values.push((samples[release] as number[])[i - (first[release] as number)] as number);
          expected[release] = values;
        });
        expect(result.map((r) => r.release ?? 'none').sort()).toEqual(Object.keys(expected).sort());
        for (const r of result) {
          const values = expected[r.release ?? 'none'] as number[];
          expect(r.count).toBe(values.length);
          expect(r.mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
          expect(r.p50).toBeCloseTo(percentileCont(values, 0.5), 9);
          expect(r.p95).toBeCloseTo(percentileCont(values, 0.95), 9);
          expect(r.max).toBe(Math.max(...values));
        }
      };
      // A device set of 20 of the 50 devices (more samples than the probe reads): on PostgreSQL
      // read from the messages' `metrics`, not from the fields table.
      const cohort = Array.from({ length: 20 }, (_, k) => `d-${k * 2 + 1}`);
      for (const [metric, samples] of [
        ['cpu', cpu],
        ['seq', seq],
      ] as const) {
        const result = await store.releaseAggregates({ metric });
        expect(result.map((r) => r.release)).toEqual(['release-1', 'release-2', null]);
        expectExact(result, samples, () => true);
        const ofCohort = await store.releaseAggregates({ metric, deviceIds: cohort });
        expect(ofCohort.map((r) => r.release)).toEqual(['release-1', 'release-2', null]);
        expectExact(ofCohort, samples, (i) => cohort.includes(messages[i]?.deviceId as string));
      }
      // A window of the same field (remembered as having few distinct values, counted per value).
      const windowed = await store.releaseAggregates({
        metric: 'cpu',
        from: new Date(T0),
        to: new Date(T0 + 100),
      });
      expectExact(windowed, cpu, (i) => Number(messages[i]?.receivedAt) - T0 < 100);
    });

    it('aggregates a field over a cohort across releases, with the share of samples above 0', async () => {
      const values = { 'pi-1': [1, 0, 3], 'pi-2': [0, 0, 8], 'pi-3': [100] } as Record<string, number[]>;
      let i = 0;
      for (const [deviceId, xs] of Object.entries(values)) {
        for (const x of xs) {
          await store.append(
            msg({
              deviceId,
              receivedAt: T0 + 1000 * i++,
              payload: JSON.stringify({ artifact_name: `r-${i % 2}`, errors: x }),
            }),
          );
        }
      }
      await store.append(msg({ deviceId: 'pi-1', receivedAt: T0 - 60_000, payload: '{"errors": 50}' }));
      const cohort = [1, 0, 3, 0, 0, 8];
      const a = await store.aggregate({
        metric: 'errors',
        deviceIds: ['pi-1', 'pi-2'],
        from: T0,
        to: T0 + 3_600_000,
      });
      expect(a.count).toBe(6);
      expect(a.mean).toBeCloseTo(2);
      expect(a.p50 as number).toBeCloseTo(percentileCont(cohort, 0.5));
      expect(a.p95 as number).toBeCloseTo(percentileCont(cohort, 0.95));
      expect(a.max).toBe(8);
      expect(a.rate).toBeCloseTo(3 / 6);
      expect(await store.aggregate({ metric: 'errors', deviceIds: ['nobody'] })).toEqual({
        count: 0,
        mean: null,
        p50: null,
        p95: null,
        max: null,
        rate: null,
      });
      // as a release gate reads it, through the health source
      const health = releaseHealthSource(store, {
        deviceIdsOf: async (ids) => ids.map((id) => id.replace('mender-', '')),
      });
      const q = {
        metric: 'errors',
        devices: ['mender-pi-1', 'mender-pi-2'],
        from: new Date(T0),
        to: new Date(T0 + 3_600_000),
      };
      expect(await health.aggregate({ ...q, stat: 'max' })).toEqual({ value: 8, samples: 6 });
      expect((await health.aggregate({ ...q, stat: 'rate' })).value).toBeCloseTo(0.5);
      expect(await health.aggregate({ ...q, devices: [], stat: 'mean' })).toEqual({
        value: undefined,
        samples: 0,
      });
      await expect(store.aggregate({ metric: '' })).rejects.toBeInstanceOf(TelemetryValidationError);
    });

    it('refuses a batch beyond its queue at once (backpressure) and stores none of it', async () => {
      await store.close();
      store = await openTelemetryStore(target.url, { maxQueued: 3 });
      const admitted = store.appendBatch([msg({ id: 'q1' }), msg({ id: 'q2' }), msg({ id: 'q3' })]);
      expect(store.pending).toBe(3);
      const refused = store.append(msg({ id: 'q4' }));
      await expect(refused).rejects.toBeInstanceOf(TelemetryBackpressureError);
      await expect(
        store.appendBatch([msg({ id: 'x1' }), msg({ id: 'x2' }), msg({ id: 'x3' }), msg({ id: 'x4' })]),
      ).rejects.toMatchObject({ code: 'ERR_TELEMETRY_BACKPRESSURE' });
      const writable = store.whenWritable(3);
      await admitted;
      await writable;
      expect(store.pending).toBe(0);
      await store.append(msg({ id: 'q4' }));
      expect((await store.messages()).map((r) => r.id).sort()).toEqual(['q1', 'q2', 'q3', 'q4']);
    });

    it('refuses an invalid message with a typed error and queues nothing of its batch', async () => {
      const bad: Array<[Partial<TelemetryMessage>, RegExp]> = [
        [{ deviceId: '' }, /deviceId/],
        [{ kind: 'config' as never }, /kind/],
        [{ registry: undefined as never }, /registry/],
        [{ payload: 'x'.repeat(256 * 1024 + 1) }, /over the limit/],
        [{ receivedAt: 'yesterday' }, /receivedAt/],
        [{ payload: 42 as never }, /payload/],
      ];
      for (const [over, pattern] of bad) {
        const err = await store.appendBatch([msg({ id: 'fine' }), msg(over)]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TelemetryValidationError);
        expect((err as Error).message).toMatch(pattern);
      }
      expect(store.pending).toBe(0);
      expect(await store.count()).toBe(0);
    });

    it('stores what was accepted when closed, then refuses appends', async () => {
      const pending = Promise.all(Array.from({ length: 50 }, (_, i) => store.append(msg({ id: `c-${i}` }))));
      await store.close();
      expect((await pending).length).toBe(50);
      await expect(store.append(msg())).rejects.toBeInstanceOf(TelemetryClosedError);
      await expect(store.latest()).rejects.toBeInstanceOf(TelemetryClosedError);
      store = await openTelemetryStore(target.url);
      if (backend.name === 'postgres') expect(await store.count()).toBe(50);
    });

    it('survives a close and a reopen', async () => {
      if (backend.name === 'duckdb') {
        // A file store: the in-memory one is gone by design.
        const dir = mkdtempSync(join(tmpdir(), 'otakit-telemetry-'));
        try {
          const file = await openTelemetryStore(join(dir, 'data'));
          await file.appendBatch([
            msg({ id: 'p1', payload: '{"cpu":1}' }),
            msg({ id: 'p2', deviceId: 'pi-2' }),
          ]);
          await file.close();
          const reopened = await openTelemetryStore(join(dir, 'data'));
          try {
            expect(await reopened.count()).toBe(2);
            expect((await reopened.latest()).map((r) => r.id)).toEqual(['p1', 'p2']);
            expect((await reopened.append(msg({ id: 'p1' }))).duplicate).toBe(true);
          } finally {
            await reopened.close();
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      } else {
        await store.appendBatch([msg({ id: 'p1' }), msg({ id: 'p2', deviceId: 'pi-2' })]);
        await store.close();
        store = await openTelemetryStore(target.url);
        expect(await store.count()).toBe(2);
        expect((await store.append(msg({ id: 'p2' }))).duplicate).toBe(true);
      }
    });

    if (backend.name === 'postgres') {
      it('brings a store of schema version 2 to the newest version, keeping its rows and its answers', async () => {
        await store.appendBatch([
          msg({ id: 'v2-a', artifactName: 'r1', payload: { cpu: 1 } }),
          msg({ id: 'v2-b', artifactName: 'r1', payload: { cpu: 3 } }),
        ]);
        await store.close();
        // The database as migration 2 left it: the plain (name, time) index and the (name, device,
        // time) one (dropped by version 7), the numeric fields' message ids (dropped by version 6),
        // version 2 the newest.
        await onDatabase(
          target.url,
          `drop index telemetry_metrics_name_time_release_value;
           create index telemetry_metrics_name_time on telemetry_metrics (name, received_at);
           create index telemetry_metrics_name_device_time on telemetry_metrics (name, device_id, received_at);
           alter table telemetry_metrics add column message_id varchar;
           delete from telemetry_schema_version where version > 2`,
        );
        store = await openTelemetryStore(target.url);
        const indexes = await pgRows(
          target.url,
          `select indexname as name, indexdef as def from pg_indexes where tablename = 'telemetry_metrics'`,
        );
        const names = indexes.map((r) => r.name);
        expect(names).toContain('telemetry_metrics_name_time_release_value');
        expect(names).not.toContain('telemetry_metrics_name_time');
        expect(names).not.toContain('telemetry_metrics_name_device_time');
        expect(indexes.find((r) => r.name === 'telemetry_metrics_name_time_release_value')?.def).toMatch(
          /\(name, received_at\) INCLUDE \(artifact_name, value\)/,
        );
        const versions = await pgRows(
          target.url,
          'select version from telemetry_schema_version order by version',
        );
        expect(versions.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect(await store.releaseAggregates({ metric: 'cpu' })).toEqual([
          { release: 'r1', count: 2, mean: 2, p50: 2, p95: 2.9, max: 3 },
        ]);
        // A device set's window, read from the messages now.
        expect(await store.releaseAggregates({ metric: 'cpu', deviceIds: ['pi-1'] })).toEqual([
          { release: 'r1', count: 2, mean: 2, p50: 2, p95: 2.9, max: 3 },
        ]);
      });

      it('tells the publisher when the database fails the write', async () => {
        await onDatabase(target.url, 'drop table telemetry_messages cascade');
        const err = await store.append(msg({ id: 'lost' })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TelemetryWriteError);
        expect((err as Error).message).toMatch(/lost was not stored/);
      });
    }
  });
}

describe('opening a store', () => {
  it('refuses a server it cannot reach with a typed error that does not print the password', async () => {
    const err = await openTelemetryStore('postgres://fleet:hunter2@127.0.0.1:1/telemetry').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TelemetryOpenError);
    expect((err as Error).message).toContain('127.0.0.1:1');
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('a DuckDB memory limit applies: too small refuses the open saying why, a sane one stores, a malformed one refuses the open', async () => {
    // 1 MB cannot even hold the schema: the open fails with DuckDB's own reason (a failed rollback
    // once hid it behind "no transaction is active").
    const tiny = await openTelemetryStore(':memory:', { duckdbMemoryLimit: '1MB' }).catch((e: unknown) => e);
    expect(tiny).toBeInstanceOf(TelemetryOpenError);
    expect((tiny as Error).message).toMatch(/could not allocate|out of memory/i);
    expect((tiny as Error).message).not.toMatch(/no transaction is active/);
    const sane = await openTelemetryStore(':memory:', { duckdbMemoryLimit: '256MB' });
    try {
      for (let b = 0; b < 5; b++) {
        await sane.appendBatch(Array.from({ length: 4000 }, (_, i) => msg({ id: `m${b}-${i}` })));
      }
      expect(await sane.count()).toBe(20_000);
    } finally {
      await sane.close();
    }
    const bad = await openTelemetryStore(':memory:', { duckdbMemoryLimit: 'lots' }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TelemetryOpenError);
  });

  it('runs DuckDB on one thread per core but one by default, at least one', async () => {
    expect(defaultDuckDbThreads(1)).toBe(1);
    expect(defaultDuckDbThreads(2)).toBe(1);
    expect(defaultDuckDbThreads(8)).toBe(7);
    expect(defaultDuckDbThreads()).toBe(Math.max(1, availableParallelism() - 1));
    const open = vi.spyOn(DuckDbBackend, 'open');
    try {
      const store = await openTelemetryStore(':memory:');
      await store.close();
      const explicit = await openTelemetryStore(':memory:', { duckdbThreads: 3 });
      await explicit.close();
      expect(open.mock.calls.map((call) => call[2])).toEqual([defaultDuckDbThreads(), 3]);
    } finally {
      open.mockRestore();
    }
  });

  it('runs DuckDB on the threads asked for, stores and aggregates on one, and refuses a count that is not a positive integer', async () => {
    for (const threads of [1, 3]) {
      const backend = await DuckDbBackend.open(':memory:', undefined, threads);
      try {
        const [row] = await backend.query(`select current_setting('threads') as threads`, []);
        expect(Number(row?.threads)).toBe(threads);
      } finally {
        await backend.close();
      }
    }
    const store = await openTelemetryStore(':memory:', { duckdbThreads: 1 });
    try {
      await store.appendBatch(Array.from({ length: 50 }, (_, i) => msg({ id: `t${i}` })));
      expect(await store.count()).toBe(50);
      const [agg] = await store.releaseAggregates({ metric: 'cpu' });
      expect(agg?.count).toBe(50);
    } finally {
      await store.close();
    }
    for (const duckdbThreads of [0, -1, 1.5]) {
      await expect(openTelemetryStore(':memory:', { duckdbThreads })).rejects.toBeInstanceOf(
        TelemetryValidationError,
      );
    }
  });

  it('refuses a second open of a DuckDB file open in this process, and opens it again once closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otakit-telemetry-'));
    try {
      const file = join(dir, 'telemetry.duckdb');
      const first = await openTelemetryStore(file);
      await first.append(msg({ id: 'one' }));
      // The same file by another spelling of its path too.
      for (const again of [file, join(dir, '.', 'telemetry.duckdb'), dir]) {
        await expect(openTelemetryStore(again)).rejects.toBeInstanceOf(TelemetryOpenError);
      }
      await first.close();
      const second = await openTelemetryStore(file);
      try {
        expect(await second.count()).toBe(1);
      } finally {
        await second.close();
      }
      // In-memory stores are each their own.
      const [m1, m2] = await Promise.all([openTelemetryStore(':memory:'), openTelemetryStore(':memory:')]);
      await Promise.all([m1.close(), m2.close()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file path under a regular file with a typed error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otakit-telemetry-'));
    try {
      writeFileSync(join(dir, 'file'), 'x');
      await expect(openTelemetryStore(join(dir, 'file', 'telemetry.duckdb'))).rejects.toBeInstanceOf(
        TelemetryOpenError,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
