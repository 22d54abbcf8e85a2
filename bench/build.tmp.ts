import pg from '../packages/telemetry/node_modules/pg/lib/index.js';
import { buildRollups, HOUR_BUCKETS } from '../packages/telemetry/src/sql/rollups.ts';
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
await c.query("set work_mem='64MB'");
const now = Number(process.env.NOW); 
const hi = Math.floor(now / 3600000) * HOUR_BUCKETS, lo = hi - 25 * HOUR_BUCKETS;
for (const hashagg of ['on', 'off']) for (const hourly of [false, true]) {
  await c.query('begin'); await c.query(`set local enable_hashagg = ${hashagg}`);
  const b = buildRollups(lo, hi, hourly);
  const t = performance.now(); await c.query(b.text, b.params); console.log('hashagg', hashagg, 'hourly', hourly, (performance.now() - t).toFixed(0), 'ms');
  await c.query('rollback');
}
await c.end();
