/**
 * HttpClient overhead benchmark: the same JSON POSTs sent through `@otakit/core`'s `HttpClient` and
 * through raw `undici.request` (same headers, body, 16 connections, 16 in flight) against a
 * `node:http` server on 127.0.0.1 that answers 201 at once, so the figures show the client's own
 * per-request cost. The two alternate in rounds so warm-up weighs on both alike. Prints both rates,
 * the ratio client/raw, and the peak RSS.
 *
 * Run after `pnpm build`: `pnpm bench http`. Size: OTAKIT_BENCH_REQUESTS (default 20000).
 * OTAKIT_BENCH_ONLY=client runs only the HttpClient loop (for `node --cpu-prof`).
 */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
// The built package (bench/ is not a workspace package).
import { HttpClient } from '../packages/core/dist/index.js';

const REQUESTS = Number(process.env.OTAKIT_BENCH_REQUESTS ?? 20_000);
const CONCURRENCY = 16;
const ROUNDS = 4;
const MIB = 1024 * 1024;
const PATH = '/api/management/v2/devauth/devices';
const TOKEN = 'token';

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 50);

async function inParallel(n: number, send: (i: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      if (!(await send(i))) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(201, { location: `devices/${randomUUID()}` }).end());
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const raw = new Agent({ connections: CONCURRENCY });
const http = new HttpClient({ baseUrl: url, auth: () => TOKEN, connections: CONCURRENCY });

const sendRaw = async (i: number): Promise<boolean> => {
  const res = await request(`${url}${PATH}`, {
    method: 'POST',
    dispatcher: raw,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'x-men-requestid': randomUUID(),
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify({ identity_data: { sn: `d-${i}` }, pubkey: 'key' }),
  });
  await res.body.dump();
  return res.statusCode === 201;
};

const sendClient = async (i: number): Promise<boolean> => {
  const res = await http.request<void>({
    method: 'POST',
    path: PATH,
    json: { identity_data: { sn: `d-${i}` }, pubkey: 'key' },
    idempotencyKey: randomUUID(),
    responseType: 'void',
  });
  return res.status === 201;
};

const onlyClient = process.env.OTAKIT_BENCH_ONLY === 'client';
let rawMs = 0;
let clientMs = 0;
let failed = 0;
const perRound = Math.ceil(REQUESTS / ROUNDS);
try {
  await inParallel(1000, sendRaw);
  await inParallel(1000, sendClient);
  for (let round = 0; round < ROUNDS; round++) {
    const runRaw = async (): Promise<void> => {
      if (onlyClient) return;
      const t = performance.now();
      failed += await inParallel(perRound, sendRaw);
      rawMs += performance.now() - t;
    };
    const runClient = async (): Promise<void> => {
      const t = performance.now();
      failed += await inParallel(perRound, sendClient);
      clientMs += performance.now() - t;
    };
    if (round % 2 === 0) {
      await runRaw();
      await runClient();
    } else {
      await runClient();
      await runRaw();
    }
  }
} finally {
  await http.close();
  await raw.close();
  server.close();
  clearInterval(sampler);
}
peak = Math.max(peak, process.memoryUsage().rss);
const total = perRound * ROUNDS;
const clientRate = total / (clientMs / 1000);
console.log(
  `http client overhead: ${total} JSON POSTs at concurrency ${CONCURRENCY}, server answers 201 at once:`,
);
if (!onlyClient) {
  const rawRate = total / (rawMs / 1000);
  console.log(`  raw undici.request   ${rawRate.toFixed(0)} req/s`);
  console.log(`  HttpClient.request   ${clientRate.toFixed(0)} req/s`);
  console.log(`  ratio client/raw     ${(clientRate / rawRate).toFixed(3)}`);
} else {
  console.log(`  HttpClient.request   ${clientRate.toFixed(0)} req/s`);
}
console.log(`  peak RSS             ${(peak / MIB).toFixed(1)} MiB`);
if (failed > 0) {
  console.error(`  ${failed} requests failed`);
  process.exitCode = 1;
}
