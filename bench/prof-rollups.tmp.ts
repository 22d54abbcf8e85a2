import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const root = resolve(import.meta.dirname, '..');
const telemetry = await import(pathToFileURL(join(root, 'packages/telemetry/dist/index.js')).href);
const target = process.argv[2] ?? '/tmp/prof/t.duckdb';
const ROWS = 1_000_000, DEVICES = 1000, DAY = 86_400_000;
const RELEASES = ['release-1', 'release-2', 'release-3'];
const fresh = target.startsWith('postgres') ? process.argv[3] === 'fill' : !existsSync(target);
const store = await telemetry.openTelemetryStore(target);
const now = Number(process.env.NOW ?? Date.now());
if (fresh) {
  const inFlight: Promise<unknown>[] = [];
  for (let s = 0; s < ROWS; s += 1000) {
    const batch = [];
    for (let i = s; i < s + 1000; i++) {
      const device = i % DEVICES;
      batch.push({ id: `fill${i}`, deviceId: `dev-${device}`, registry: 'projects/bench/locations/europe-west1/registries/fleet', kind: 'event',
        receivedAt: now - Math.floor(((i * 7919) % ROWS) * (DAY / ROWS)),
        payload: JSON.stringify({ artifact_name: RELEASES[device % 3], cpu: ((device * 7 + i * 13) % 1000) / 1000, temp: 40 + ((device + i) % 300) / 10, seq: i }) });
    }
    inFlight.push(store.appendBatch(batch));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  console.log('filled', now);
}
for (const metric of ['cpu', 'seq']) {
  const q = { metric, from: now - DAY - 60_000, to: now + 60_000 };
  const times: number[] = [];
  for (let i = 0; i < Number(process.env.RUNS ?? 15); i++) { const t = performance.now(); await store.releaseAggregates(q); times.push(performance.now() - t); }
  times.sort((a, b) => a - b);
  console.log(metric, times.map((t) => t.toFixed(0)).join(' '));
}
await store.close();
