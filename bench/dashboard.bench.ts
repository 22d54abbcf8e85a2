/**
 * Fleet page benchmark (issue 14), 1,000 devices: a sandbox with 1,000 preauthorized devices
 * (identity `device_id`), a telemetry store (DuckDB in memory) with 10 release-tagged messages per
 * device, the dashboard polling both planes every second (its default), and Debian's Chromium
 * driven by playwright-core.
 *
 * 1. First meaningful paint: from navigation start until the fleet table holds all 1,000 rows
 *    (`performance.now()` in the page, sampled every animation frame), against the fastest honest
 *    baseline measured in the same run: the same 1,000 rows as a static server-rendered HTML
 *    table from a plain `node:http` server. Rounds alternate; medians.
 * 2. SSE update latency: a device's telemetry names a new release; the time from the append
 *    until the page's row shows it (both clocks on this machine). Bounded below by the poll
 *    interval: against the time one snapshot takes to build (the baseline), medians and p95.
 *
 * Goals: page usable < 1 s, updates visible < 2 s after the event. Prints peak RSS of this process
 * (sandbox, store and dashboard; Chromium is a separate process).
 * Run after `pnpm build`: `pnpm bench dashboard`.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildSnapshot, startDashboard } from '../packages/dashboard/dist/index.js';
import { launchChromium, SCREENSHOTS } from '../packages/dashboard/test/browser.js';
import { REGISTRY, startTestFleet, telemetryFor } from '../packages/dashboard/test/fleet.js';

const DEVICES = 1000;
const ROUNDS = 5;
const UPDATES = 10;

let peak = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 50);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const p95 = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] ?? Number.NaN;
};

const seedStart = performance.now();
const fleet = await startTestFleet(DEVICES);
await fleet.telemetry.appendBatch(
  telemetryFor(
    fleet.devices.map((d, i) => ({ deviceId: d.deviceId, release: i % 4 === 0 ? 'release-2' : 'release-1' })),
    10,
  ),
);
console.log(
  `seeded ${DEVICES} devices and ${DEVICES * 10} messages in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
);

const dash = await startDashboard({ management: fleet.management, telemetry: fleet.telemetry });
const snap = await dash.refresh();
if (snap.devices.length !== DEVICES) throw new Error(`snapshot has ${snap.devices.length} devices`);

// The baseline page: the same rows, rendered once into static HTML.
const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const staticHtml = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>static</title><link rel="icon" href="data:,"></head><body><table id="fleet-table"><tbody>${snap.devices
  .map(
    (d) =>
      `<tr><th>${esc(d.id)}</th><td>${esc(d.menderStatus ?? '')}</td><td>${esc(d.release ?? '')}</td><td>${esc(JSON.stringify(d.metrics))}</td></tr>`,
  )
  .join('')}</tbody></table></body></html>`;
const staticServer = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(staticHtml);
});
await new Promise<void>((r) => staticServer.listen(0, '127.0.0.1', r));
const staticUrl = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}/`;

const browser = await launchChromium();

/** Milliseconds from navigation start until the fleet table holds every row. */
async function paint(url: string): Promise<number> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  try {
    await page.goto(url, { waitUntil: 'commit' });
    const handle = await page.waitForFunction(
      (n) => (document.querySelectorAll('#fleet-table tbody tr').length >= n ? performance.now() : false),
      DEVICES,
      { polling: 'raf', timeout: 30_000 },
    );
    return (await handle.jsonValue()) as number;
  } finally {
    await page.close();
  }
}

await paint(staticUrl); // warm-up of both
await paint(dash.url);
const ours: number[] = [];
const base: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  base.push(await paint(staticUrl));
  ours.push(await paint(dash.url));
}
console.log('\nfirst meaningful paint (1,000-row fleet table filled), ms');
console.log(
  `  dashboard            median ${median(ours).toFixed(0)}  (runs ${ours.map((x) => x.toFixed(0)).join(', ')})  goal < 1000`,
);
console.log(
  `  static HTML baseline median ${median(base).toFixed(0)}  (runs ${base.map((x) => x.toFixed(0)).join(', ')})`,
);
console.log(`  ratio dashboard/static ${(median(ours) / median(base)).toFixed(2)}`);

// SSE update latency.
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
await page.goto(dash.url);
await page.waitForFunction((n) => document.querySelectorAll('#fleet-table tbody tr').length >= n, DEVICES);
const latencies: number[] = [];
const builds: number[] = [];
const target = fleet.devices[DEVICES - 1]!.deviceId;
for (let i = 0; i < UPDATES; i++) {
  const release = `release-bench-${i}`;
  // Spread the events over the poll cycle.
  await new Promise((r) => setTimeout(r, 137 * (i % 7)));
  const t0 = Date.now();
  await fleet.telemetry.append({
    deviceId: target,
    registry: REGISTRY,
    kind: 'event',
    payload: { artifact_name: release, cpu_temp: 50 },
  });
  const handle = await page.waitForFunction(
    ([id, rel]) =>
      document.querySelector(`#fleet-table tr[data-device="${id}"] .release`)?.textContent === rel
        ? Date.now()
        : false,
    [target, release] as const,
    { polling: 'raf', timeout: 30_000 },
  );
  latencies.push(((await handle.jsonValue()) as number) - t0);
  const b0 = performance.now();
  await buildSnapshot({ management: fleet.management, telemetry: fleet.telemetry });
  builds.push(performance.now() - b0);
}
await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-bench-1000.png') });
console.log('\nSSE update latency (telemetry append until the row shows it), ms, poll every 1000 ms');
console.log(
  `  dashboard            median ${median(latencies).toFixed(0)}  p95 ${p95(latencies).toFixed(0)}  goal < 2000`,
);
console.log(
  `  snapshot build (baseline: one poll of both planes) median ${median(builds).toFixed(0)}  p95 ${p95(builds).toFixed(0)}`,
);
console.log(`  ratio latency/build (medians) ${(median(latencies) / median(builds)).toFixed(2)}`);

await browser.close();
await dash.close();
staticServer.close();
await fleet.close();
clearInterval(sampler);
console.log(
  `\npeak RSS ${(peak / 1024 / 1024).toFixed(0)} MiB (sandbox, telemetry store and dashboard in this process)`,
);
