/** A real node:http server on 127.0.0.1 for the CLI's tests of the device bundle's HTTP. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening server: its base URL, and `close()`, which also drops open (held) connections. */
export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 on a free port that answers with `handler`. */
export async function serveOnLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LoopbackServer> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
