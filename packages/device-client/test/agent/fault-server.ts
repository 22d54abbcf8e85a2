import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Faults the test server injects; each switch is consumed as it fires. */
export interface Faults {
  /** Destroy the socket after this many body bytes of the next responses (one entry per response). */
  resetAfter: number[];
  /** Answer 200 with the full body even when Range is asked. */
  ignoreRange: boolean;
  /** Answer the next N requests with this status. */
  statuses: { status: number; headers?: Record<string, string> }[];
  /** Stop sending (without closing) after this many bytes, on the next responses. */
  stallAfter: number[];
  /** Paths answered 403 (an expired link). */
  expired: Set<string>;
}

/** A small node:http server that serves one blob and misbehaves on purpose. */
export class FaultServer {
  readonly faults: Faults = {
    resetAfter: [],
    ignoreRange: false,
    statuses: [],
    stallAfter: [],
    expired: new Set(),
  };
  readonly requests: {
    path: string;
    range: string | undefined;
    ifRange: string | undefined;
    auth: string | undefined;
  }[] = [];
  bytesSent = 0;
  readonly etag: string;
  #server: Server;
  #stalled: ServerResponse[] = [];

  constructor(readonly body: Buffer) {
    this.etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const r of this.#stalled) r.destroy();
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    this.requests.push({
      path,
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
      auth: req.headers.authorization,
    });
    if (this.faults.expired.has(path.split('?')[0]!)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('expired');
      return;
    }
    if (path.startsWith('/missing')) {
      res.writeHead(404).end('not found');
      return;
    }
    const forced = this.faults.statuses.shift();
    if (forced) {
      res.writeHead(forced.status, forced.headers ?? {}).end('fault');
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (m && !this.faults.ignoreRange && (ifRange === undefined || ifRange === this.etag))
      start = Number(m[1]);
    const chunk = this.body.subarray(start);
    const headers: Record<string, string | number> = { etag: this.etag, 'content-length': chunk.length };
    if (start > 0) {
      headers['content-range'] = `bytes ${start}-${this.body.length - 1}/${this.body.length}`;
      res.writeHead(206, headers);
    } else res.writeHead(200, headers);
    const resetAt = this.faults.resetAfter.shift();
    const stallAt = this.faults.stallAfter.shift();
    const limit = Math.min(resetAt ?? Number.POSITIVE_INFINITY, stallAt ?? Number.POSITIVE_INFINITY);
    if (limit === Number.POSITIVE_INFINITY) {
      this.bytesSent += chunk.length;
      res.end(chunk);
      return;
    }
    const part = chunk.subarray(0, limit);
    this.bytesSent += part.length;
    res.write(part, () => {
      if (resetAt !== undefined && resetAt <= limit) setTimeout(() => res.socket?.destroy(), 20);
      else this.#stalled.push(res);
    });
  }
}
