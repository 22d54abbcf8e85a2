/**
 * The fleet page's script: renders the snapshot the server pushes (server-sent events) into the
 * server-rendered shell, draws the per-release chart with uPlot and shows a device on `#/device/ID`.
 * Every value is written with textContent: nothing from the API is parsed as HTML.
 */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { DeploymentView, FleetDevice, FleetSnapshot, ReleaseSeries, RolloutView } from '../src/index.js';

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

const when = (iso: string | null): string => {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return d.toLocaleString();
};

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(2));

function metricsText(m: Record<string, number>): string {
  return Object.entries(m)
    .slice(0, 4)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
}

let snapshot: FleetSnapshot | undefined;

function setOptions(select: HTMLSelectElement, values: string[], keepAll: boolean): void {
  const chosen = select.value;
  const wanted = keepAll ? ['', ...values] : values;
  const have = [...select.options].map((o) => o.value);
  if (have.join('\n') !== wanted.join('\n')) {
    select.replaceChildren(...wanted.map((v) => h('option', { value: v }, v === '' ? 'All' : v)));
  }
  if (wanted.includes(chosen)) select.value = chosen;
}

function statusOf(d: FleetDevice): string {
  return d.menderStatus ?? 'unknown';
}

function renderFleet(s: FleetSnapshot): void {
  const release = $('filter-release') as HTMLSelectElement;
  const group = $('filter-group') as HTMLSelectElement;
  const status = $('filter-status') as HTMLSelectElement;
  setOptions(
    release,
    s.releases.map((r) => r.name),
    true,
  );
  setOptions(group, s.groups, true);
  setOptions(status, [...new Set(s.devices.map(statusOf))].sort(), true);
  const rows = s.devices.filter(
    (d) =>
      (release.value === '' || d.release === release.value) &&
      (group.value === '' || d.group === group.value) &&
      (status.value === '' || statusOf(d) === status.value),
  );
  const tbody = $('fleet-table').querySelector('tbody') as HTMLTableSectionElement;
  tbody.replaceChildren(
    ...rows.map((d) =>
      h(
        'tr',
        { 'data-device': d.id },
        h('th', { scope: 'row' }, h('a', { href: `#/device/${encodeURIComponent(d.id)}` }, d.id)),
        h('td', {}, h('span', { class: `badge s-${statusOf(d)}` }, statusOf(d))),
        h('td', {}, d.registryStatus ?? '—'),
        h('td', { class: 'release' }, d.release ?? '—'),
        h('td', {}, d.group ?? '—'),
        h('td', {}, d.deployment ? d.deployment.status : '—'),
        h('td', {}, when(d.menderLastSeen)),
        h('td', {}, when(d.telemetryLastSeen ?? d.registryLastEvent)),
        h('td', { class: 'metrics' }, metricsText(d.metrics) || '—'),
      ),
    ),
  );
  $('fleet-count').textContent = `${rows.length} of ${s.devices.length} devices`;
}

function renderReleases(s: FleetSnapshot): void {
  const tbody = $('releases').querySelector('tbody') as HTMLTableSectionElement;
  tbody.replaceChildren(
    ...(s.releases.length
      ? s.releases.map((r) => h('tr', {}, h('th', { scope: 'row' }, r.name), h('td', {}, String(r.devices))))
      : [h('tr', {}, h('td', { colspan: '2' }, 'No release reported yet'))]),
  );
}

function deploymentCard(d: DeploymentView): HTMLElement {
  const total = Object.values(d.statistics).reduce((a, b) => a + b, 0);
  const done = ['success', 'failure', 'aborted', 'noartifact', 'already-installed', 'decommissioned'].reduce(
    (a, k) => a + (d.statistics[k] ?? 0),
    0,
  );
  const label = `${d.name} (${d.artifactName})`;
  return h(
    'article',
    { class: 'deployment', 'data-deployment': d.id, 'data-status': d.status },
    h('h3', {}, label),
    h(
      'p',
      {},
      `${d.status} · ${done}/${total} finished · `,
      Object.entries(d.statistics)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'no devices',
    ),
    h('progress', {
      max: String(Math.max(total, 1)),
      value: String(done),
      'aria-label': `${label}: ${done} of ${total} finished`,
    }),
    d.devices.length > 0 &&
      h(
        'details',
        {},
        h('summary', {}, `${d.devices.length} devices`),
        h(
          'ul',
          { class: 'device-states' },
          ...d.devices.map((x) => h('li', { 'data-device': x.id }, `${x.id}: `, h('strong', {}, x.status))),
        ),
      ),
  );
}

function renderDeployments(s: FleetSnapshot): void {
  const list = $('deployments').querySelector('.list') as HTMLElement;
  const shown = s.deployments.slice(0, 8);
  list.replaceChildren(...(shown.length ? shown.map(deploymentCard) : [h('p', {}, 'No deployment')]));
}

interface CohortValue {
  value?: number;
  samples?: number;
}

const cohort = (c: unknown): string => {
  const v = c as CohortValue | undefined;
  if (!v || typeof v !== 'object') return '—';
  return `${typeof v.value === 'number' ? fmt(v.value) : 'n/a'} (${v.samples ?? 0} samples)`;
};

/** A gate decision in words: `cpu_temp:p95:+10% regression: updated 62.25 (40 samples) · baseline …`. */
function gateText(g: Record<string, unknown>): string {
  if (typeof g.gate !== 'string') {
    return Object.entries(g)
      .map(([k, v]) => `${k}: ${typeof v === 'number' ? fmt(v) : JSON.stringify(v)}`)
      .join(' · ');
  }
  const parts = [`${g.gate} ${String(g.verdict ?? '')}: updated ${cohort(g.updated)}`];
  if (g.baseline) parts.push(`baseline ${cohort(g.baseline)}`);
  if (typeof g.limit === 'number') parts.push(`limit ${fmt(g.limit)}`);
  if (typeof g.reason === 'string') parts.push(g.reason);
  return parts.join(' · ');
}

function rolloutCard(r: RolloutView): HTMLElement {
  return h(
    'article',
    { class: 'rollout' },
    h('h3', {}, `${r.name || r.id} → ${r.artifactName}`),
    h(
      'p',
      {},
      `${r.status}${r.reason ? ` (${r.reason})` : ''} · phase ${r.currentPhase + 1} of ${r.phases.length}`,
    ),
    r.rollback &&
      h(
        'p',
        { class: 'rollback' },
        `Rollback ${r.rollback.status}: `,
        r.rollback.deployments.map((d) => `${d.devices} devices back to ${d.artifactName}`).join(', ') ||
          'nothing to deploy',
        r.rollback.skipped ? ` · ${r.rollback.skipped} skipped (previous release unknown)` : '',
      ),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Phase', 'Cohort', 'Status', 'Gate decisions'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        ...r.phases.map((p) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, String(p.index + 1)),
            h('td', {}, `${p.devices} devices`),
            h('td', {}, p.status + (p.reason ? ` (${p.reason})` : '')),
            h(
              'td',
              {},
              p.gates.length
                ? h(
                    'ul',
                    { class: 'gates' },
                    ...p.gates.map((g) => h('li', { 'data-verdict': String(g.verdict ?? '') }, gateText(g))),
                  )
                : '—',
            ),
          ),
        ),
      ),
    ),
  );
}

function renderRollouts(s: FleetSnapshot): void {
  const list = $('rollouts').querySelector('.list') as HTMLElement;
  list.replaceChildren(
    ...(s.rollouts.length ? s.rollouts.map(rolloutCard) : [h('p', {}, 'No gated rollout')]),
  );
}

// ---- chart ----------------------------------------------------------------------------------

let plot: uPlot | undefined;
let chartKey = '';
let chartAt = 0;

type SeriesResponse = ReleaseSeries & {
  deployments: { id: string; name: string; created: string | null; finished: string | null }[];
};

function markers(data: SeriesResponse): { t: number; label: string }[] {
  const out: { t: number; label: string }[] = [];
  for (const d of data.deployments) {
    if (d.created) out.push({ t: Date.parse(d.created) / 1000, label: `${d.name} start` });
    if (d.finished) out.push({ t: Date.parse(d.finished) / 1000, label: `${d.name} finish` });
  }
  return out;
}

async function renderChart(force = false): Promise<void> {
  const release = ($('chart-release') as HTMLSelectElement).value;
  const metric = ($('chart-metric') as HTMLSelectElement).value;
  const el = $('chart-plot');
  if (!release || !metric) return;
  const key = `${release}\n${metric}`;
  if (!force && key === chartKey && Date.now() - chartAt < 5000) return;
  chartKey = key;
  chartAt = Date.now();
  const res = await fetch(`/api/series?${new URLSearchParams({ release, metric })}`);
  if (!res.ok) throw new Error(`series: HTTP ${res.status}`);
  const data = (await res.json()) as SeriesResponse;
  const marks = markers(data);
  const samples = data.count.reduce((a, b) => a + b, 0);
  el.setAttribute(
    'aria-label',
    `${metric} of ${release}: mean per ${data.bucketSeconds} s, ${samples} samples`,
  );
  $('chart-note').textContent =
    `${samples} samples · ${marks.length ? marks.map((m) => m.label).join(', ') : 'no deployment of this release in view'}`;
  const width = Math.max(320, el.clientWidth || 640);
  const opts: uPlot.Options = {
    width,
    height: 240,
    series: [{}, { label: `${metric} (mean)`, stroke: '#1d4ed8', width: 2, spanGaps: true }],
    axes: [{}, { label: metric }],
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = '#b45309';
          ctx.fillStyle = '#7c2d12';
          ctx.setLineDash([5, 4]);
          ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
          for (const m of marks) {
            const x = Math.round(u.valToPos(m.t, 'x', true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillText(m.label, x + 4, u.bbox.top + 14 * devicePixelRatio);
          }
          ctx.restore();
        },
      ],
    },
  };
  const aligned: uPlot.AlignedData = [data.times, data.mean];
  if (plot) plot.destroy();
  plot = new uPlot(opts, aligned, el);
}

function renderChartControls(s: FleetSnapshot): void {
  const release = $('chart-release') as HTMLSelectElement;
  const metric = $('chart-metric') as HTMLSelectElement;
  setOptions(
    release,
    s.releases.map((r) => r.name),
    false,
  );
  setOptions(metric, s.metrics, false);
  void renderChart().catch(report);
}

// ---- device view ------------------------------------------------------------------------------

interface DeviceResponse {
  device: FleetDevice;
  deployments: { id: string; name: string; artifactName: string; status: string; created: string | null }[];
  telemetry: { receivedAt: string; artifactName: string | null; metrics: Record<string, number> }[];
}

/** Shows the route of `location.hash`; `focus` moves the focus to the device's heading (on navigation only). */
async function showRoute(focus = true): Promise<void> {
  const m = /^#\/device\/(.+)$/.exec(location.hash);
  const deviceView = $('device-view');
  const fleetView = $('fleet-view');
  if (!m) {
    deviceView.hidden = true;
    fleetView.hidden = false;
    return;
  }
  const id = decodeURIComponent(m[1] ?? '');
  const res = await fetch(`/api/devices/${encodeURIComponent(id)}`);
  fleetView.hidden = true;
  deviceView.hidden = false;
  const title = $('device-title');
  if (!res.ok) {
    title.textContent = `Device ${id}: not found`;
    if (focus) title.focus();
    return;
  }
  const data = (await res.json()) as DeviceResponse;
  const d = data.device;
  title.textContent = `Device ${d.id}`;
  const facts: [string, string][] = [
    ['Mender id', d.menderId ?? '—'],
    ['Mender status', d.menderStatus ?? '—'],
    ['Registry', d.registryStatus ?? '—'],
    ['Release', d.release ?? '—'],
    ['Group', d.group ?? '—'],
    ['Seen by Mender', when(d.menderLastSeen)],
    ['Last telemetry', when(d.telemetryLastSeen)],
    ['Latest metrics', metricsText(d.metrics) || '—'],
  ];
  $('device-facts').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  ($('device-deployments').querySelector('tbody') as HTMLElement).replaceChildren(
    ...(data.deployments.length
      ? data.deployments.map((x) =>
          h(
            'tr',
            {},
            h('td', {}, x.name),
            h('td', {}, x.artifactName),
            h('td', {}, x.status),
            h('td', {}, when(x.created)),
          ),
        )
      : [h('tr', {}, h('td', { colspan: '4' }, 'No deployment'))]),
  );
  ($('device-telemetry').querySelector('tbody') as HTMLElement).replaceChildren(
    ...(data.telemetry.length
      ? data.telemetry
          .slice(0, 50)
          .map((t) =>
            h(
              'tr',
              {},
              h('td', {}, new Date(t.receivedAt).toLocaleString()),
              h('td', {}, t.artifactName ?? '—'),
              h('td', {}, metricsText(t.metrics)),
            ),
          )
      : [h('tr', {}, h('td', { colspan: '3' }, 'No telemetry'))]),
  );
  if (focus) title.focus();
}

// ---- wiring -------------------------------------------------------------------------------------

function report(err: unknown): void {
  $('status').textContent = `Error: ${err instanceof Error ? err.message : String(err)}`;
}

function render(s: FleetSnapshot): void {
  snapshot = s;
  renderFleet(s);
  renderReleases(s);
  renderDeployments(s);
  renderRollouts(s);
  renderChartControls(s);
  const problems = s.errors.map((e) => `${e.source}: ${e.message}`).join('; ');
  $('status').textContent =
    `Live · updated ${new Date(s.generatedAt).toLocaleTimeString()}${problems ? ` · unavailable: ${problems}` : ''}`;
  document.body.dataset.generatedAt = s.generatedAt;
  // An open device view follows the fleet too, without taking the focus.
  if (!$('device-view').hidden) void showRoute(false).catch(report);
}

function start(): void {
  for (const id of ['filter-release', 'filter-group', 'filter-status']) {
    $(id).addEventListener('change', () => snapshot && renderFleet(snapshot));
  }
  for (const id of ['chart-release', 'chart-metric']) {
    $(id).addEventListener('change', () => void renderChart(true).catch(report));
  }
  for (const id of ['filters', 'chart-controls']) $(id).addEventListener('submit', (e) => e.preventDefault());
  window.addEventListener('hashchange', () => void showRoute().catch(report));
  void showRoute().catch(report);
  const initial = document.getElementById('initial-snapshot')?.textContent;
  let since = '';
  if (initial) {
    const s = JSON.parse(initial) as FleetSnapshot;
    render(s);
    since = s.generatedAt;
  }
  const events = new EventSource(`/api/events?${new URLSearchParams({ since })}`);
  events.addEventListener('fleet', (e) =>
    render(JSON.parse((e as MessageEvent<string>).data) as FleetSnapshot),
  );
  events.addEventListener('error', () => {
    $('status').textContent = 'Reconnecting…';
  });
}

start();
