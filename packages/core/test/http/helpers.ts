import { MockAgent } from 'undici';
import { HttpClient } from '../../src/http/client.js';
import type { HttpClientOptions, Logger } from '../../src/http/types.js';

export const ORIGIN = 'https://mender.test';

/** A MockAgent that refuses real connections, and its interceptor pool for {@link ORIGIN}. */
export function mockServer() {
  const agent = new MockAgent();
  agent.disableNetConnect();
  return { agent, pool: agent.get(ORIGIN) };
}

/** A client on a MockAgent with near-zero backoff, so retry tests do not wait. */
export function mockClient(agent: MockAgent, options: Partial<HttpClientOptions> = {}): HttpClient {
  return new HttpClient({
    baseUrl: ORIGIN,
    dispatcher: agent,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  });
}

/** A logger that records every call, to check what would be written. */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, meta?: Record<string, unknown>): void => {
      lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
    };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}
