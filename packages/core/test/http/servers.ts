import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';

/** A real server listening on 127.0.0.1 on a free port. */
export interface TestServer {
  server: Server | HttpsServer;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts `server` on 127.0.0.1:0 and returns its URL; `close()` also drops open (stalled) sockets. */
export async function listen(server: Server | HttpsServer, protocol = 'http'): Promise<TestServer> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `${protocol}://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A node:http server on 127.0.0.1 running `handler`. */
export function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  return listen(createServer(handler));
}

/** What went through a {@link startProxy} proxy. */
export interface ProxyLog {
  /** `CONNECT host:port` targets tunnelled. */
  tunnels: string[];
  /** Absolute URLs forwarded as plain HTTP. */
  forwarded: string[];
  /** `Proxy-Authorization` headers seen. */
  proxyAuthorizations: string[];
}

/** A small forward proxy: tunnels `CONNECT` and forwards absolute-URI requests, logging both. */
export async function startProxy(): Promise<TestServer & { log: ProxyLog }> {
  const log: ProxyLog = { tunnels: [], forwarded: [], proxyAuthorizations: [] };
  const server = createServer((req, res) => {
    log.forwarded.push(req.url ?? '');
    if (req.headers['proxy-authorization']) log.proxyAuthorizations.push(req.headers['proxy-authorization']);
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client, head: Buffer) => {
    log.tunnels.push(req.url ?? '');
    if (req.headers['proxy-authorization']) log.proxyAuthorizations.push(req.headers['proxy-authorization']);
    const [host = '', port = ''] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const started = await listen(server);
  return { ...started, log };
}
