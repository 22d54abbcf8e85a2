/** Real HTTP servers on loopback for the tests of several packages (core's HTTP client, the CLI's device bundle). */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

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
