import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import * as source from '../src/errors.js';
import type { HttpClient } from '../src/http/client.js';

// This test loads the BUILT package on purpose: it checks that `instanceof` holds between the ESM and
// CJS builds loaded side by side in one process. CI builds before it tests.
const esmPath = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const cjsPath = fileURLToPath(new URL('../dist/index.cjs', import.meta.url));

const CLASSES = [
  'OtakitError',
  'ApiError',
  'BadRequestError',
  'UnauthorizedError',
  'ForbiddenError',
  'NotFoundError',
  'ConflictError',
  'PreconditionFailedError',
  'PayloadTooLargeError',
  'RateLimitError',
  'ServerError',
  'ConnectionError',
  'TimeoutError',
  'AbortError',
  'InvalidResponseError',
] as const;

type ErrorModule = Record<(typeof CLASSES)[number], new (...args: never[]) => Error> &
  typeof source & { HttpClient: typeof HttpClient };

async function loadBuilds(): Promise<{ esm: ErrorModule; cjs: ErrorModule }> {
  for (const path of [esmPath, cjsPath]) {
    if (!existsSync(path)) {
      throw new Error(
        `${path} is missing: build @otakit/core first (npx pnpm@10 build) - this test checks the dist`,
      );
    }
  }
  const esm = (await import(pathToFileURL(esmPath).href)) as ErrorModule;
  const cjs = createRequire(import.meta.url)(cjsPath) as ErrorModule;
  return { esm, cjs };
}

function make(mod: ErrorModule, name: (typeof CLASSES)[number]): Error {
  const details = { status: 500, method: 'GET', url: 'https://mender.test/x', timeoutMs: 1, reason: 'r' };
  const Class = mod[name] as unknown as new (...args: unknown[]) => Error;
  if (name === 'OtakitError') return new Class('ERR_TEST', 'test');
  if (name === 'AbortError') return new Class();
  return new Class(details);
}

describe('instanceof across the ESM and CJS builds', () => {
  it('loads two distinct copies of every error class', async () => {
    const { esm, cjs } = await loadBuilds();
    for (const name of CLASSES) {
      expect(typeof esm[name], name).toBe('function');
      expect(esm[name], name).not.toBe(cjs[name]);
    }
  });

  it.each(CLASSES)(
    '%s made by one build is an instance of the same class of the other, both ways',
    async (name) => {
      const { esm, cjs } = await loadBuilds();
      for (const [from, to] of [
        [cjs, esm],
        [esm, cjs],
        [cjs, source as unknown as ErrorModule],
      ] as const) {
        const err = make(from, name);
        expect(err instanceof to[name]).toBe(true);
        expect(err instanceof to.OtakitError).toBe(true);
        expect(err instanceof Error).toBe(true);
        for (const other of CLASSES) {
          if (other === name || other === 'OtakitError') continue;
          const isParent = other === 'ApiError' && make(from, name) instanceof from.ApiError;
          expect(err instanceof to[other], `${name} instanceof ${other}`).toBe(isParent);
        }
      }
    },
  );

  it('an error thrown by the CJS HttpClient is caught by the ESM classes', async () => {
    const { esm, cjs } = await loadBuilds();
    const agent = new MockAgent();
    agent.disableNetConnect();
    agent
      .get('https://mender.test')
      .intercept({ path: '/missing', method: 'GET' })
      .reply(404, { error: 'nope' });
    const client = new cjs.HttpClient({ baseUrl: 'https://mender.test', dispatcher: agent, maxRetries: 0 });
    const err = await client.request({ method: 'GET', path: '/missing' }).catch((e: unknown) => e);
    await agent.close();
    expect(err instanceof esm.NotFoundError).toBe(true);
    expect(err instanceof esm.ApiError).toBe(true);
    expect(err instanceof esm.RateLimitError).toBe(false);
    expect((err as source.ApiError).code).toBe(esm.NotFoundError.code);
  });
});
