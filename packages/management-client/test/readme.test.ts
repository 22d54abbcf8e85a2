/** The README's first example runs as written against a sandbox (URL, token and file path swapped in). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeArtifact } from '@otakit/core';
import { startSandbox } from '@otakit/sandbox';
import ts from 'typescript';
import { expect, it, vi } from 'vitest';
import * as client from '../src/index.js';
import { FakeDevice } from './fake-device.js';

it('runs the README example', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  expect(block.split('\n').filter((l) => l.trim() !== '')).toHaveLength(10);

  const sandbox = await startSandbox({ port: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'otakit-readme-'));
  const stop = new AbortController();
  try {
    const artifact = join(dir, 'app-1.2.mender');
    await writeArtifact(
      {
        type: 'module-image',
        moduleType: 'single-file',
        artifactName: 'app-1.2',
        deviceTypes: ['readme'],
        files: [{ name: 'f', content: 'x' }],
      },
      artifact,
    );
    const device = await FakeDevice.create(sandbox.url, { mac: 'readme' });
    expect(await device.authenticate()).toBe(401); // pending: the example accepts it
    // The device takes any deployment it is offered to success.
    const deviceLoop = (async () => {
      while (!stop.signal.aborted) {
        if ((await device.authenticate()) === 200) {
          const id = await device.next('factory', 'readme');
          if (id !== undefined) return device.complete(id, 'success');
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    vi.stubEnv('OTAKIT_TOKEN', sandbox.managementToken());
    const code = block
      .replace("import { ManagementClient } from '@otakit/management-client';", '')
      .replace("'http://127.0.0.1:8080'", JSON.stringify(sandbox.url))
      .replace("'./app-1.2.mender'", JSON.stringify(artifact));
    const js = ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
    const logs: unknown[][] = [];
    const console = { log: (...args: unknown[]) => logs.push(args) };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...values: unknown[]) => Promise<void>;
    await new AsyncFunction('ManagementClient', 'console', 'process', js)(
      client.ManagementClient,
      console,
      process,
    );
    stop.abort();
    await deviceLoop;
    const last = logs.at(-1) ?? [];
    expect(last[1]).toBe('finished');
    expect(last[2]).toMatchObject({ success: 1 });
  } finally {
    stop.abort();
    vi.unstubAllEnvs();
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  }
});
