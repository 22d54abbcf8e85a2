/** The page's HTML shell, rendered by the server; the bundled script fills in the live parts. */

/** The Content-Security-Policy of every response: nothing from other origins, no inline code. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The page: semantic landmarks, labelled controls, empty tables the script fills. The current
 * snapshot rides along as a JSON data block (not executed, so the CSP allows it) so that the first
 * paint needs no second round trip; `<` is escaped so no value can close the block.
 */
export function renderPage(title: string, snapshotJson: string): string {
  const t = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const data = snapshotJson.replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="application/json" id="initial-snapshot">${data}</script>
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<a class="skip" href="#fleet">Skip to the fleet</a>
<header>
  <h1>${t}</h1>
  <p id="status" role="status" aria-live="polite">Connecting…</p>
</header>
<main>
  <section id="device-view" aria-labelledby="device-title" hidden>
    <h2 id="device-title" tabindex="-1">Device</h2>
    <p><a href="#">Back to the fleet</a></p>
    <dl id="device-facts"></dl>
    <h3>Deployments</h3>
    <table id="device-deployments"><thead><tr><th scope="col">Deployment</th><th scope="col">Release</th><th scope="col">State</th><th scope="col">Created</th></tr></thead><tbody></tbody></table>
    <h3>Telemetry history</h3>
    <table id="device-telemetry"><thead><tr><th scope="col">Received</th><th scope="col">Release</th><th scope="col">Metrics</th></tr></thead><tbody></tbody></table>
  </section>
  <div id="fleet-view">
  <div class="panels">
    <section id="releases" aria-labelledby="releases-title">
      <h2 id="releases-title">Releases</h2>
      <table><thead><tr><th scope="col">Release</th><th scope="col">Devices</th></tr></thead><tbody></tbody></table>
    </section>
    <section id="deployments" aria-labelledby="deployments-title">
      <h2 id="deployments-title">Deployments</h2>
      <div class="list"></div>
    </section>
    <section id="rollouts" aria-labelledby="rollouts-title">
      <h2 id="rollouts-title">Gated rollouts</h2>
      <div class="list"></div>
    </section>
  </div>
  <section id="chart" aria-labelledby="chart-title">
    <h2 id="chart-title">Release metrics</h2>
    <form class="controls" id="chart-controls">
      <label>Release <select id="chart-release" name="release"></select></label>
      <label>Metric <select id="chart-metric" name="metric"></select></label>
    </form>
    <div id="chart-plot" role="img" aria-label="No chart yet"></div>
    <p id="chart-note" class="note"></p>
  </section>
  <section id="fleet" aria-labelledby="fleet-title">
    <h2 id="fleet-title">Fleet</h2>
    <form class="controls" id="filters">
      <label>Release <select id="filter-release" name="release"><option value="">All</option></select></label>
      <label>Group <select id="filter-group" name="group"><option value="">All</option></select></label>
      <label>Status <select id="filter-status" name="status"><option value="">All</option></select></label>
      <span id="fleet-count" aria-live="polite"></span>
    </form>
    <table id="fleet-table">
      <thead><tr>
        <th scope="col">Device</th><th scope="col">Mender</th><th scope="col">Registry</th><th scope="col">Release</th>
        <th scope="col">Group</th><th scope="col">Deployment</th><th scope="col">Seen by Mender</th>
        <th scope="col">Last telemetry</th><th scope="col">Metrics</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </section>
  </div>
</main>
</body>
</html>
`;
}
