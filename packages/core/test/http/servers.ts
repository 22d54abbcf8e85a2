import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { listen, type TestServer } from '@otakit/test-support';

// The loopback server helpers live in test-support (the CLI's tests use them too).
export { listen, startServer, type TestServer } from '@otakit/test-support';

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
