/**
 * `--json` on the commands that print one result (artifact validate/write/sign, device install)
 * and JSON lines from the long-running agent (`device run --json`).
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run, startJsonAgent } from './helpers.js';

let dir: string;
let image: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-json-'));
  image = join(dir, 'rootfs.img');
  await writeFile(image, randomBytes(50_000));
  expect((await run('device', 'keygen', '--out', join(dir, 'signing.key'))).code).toBe(0);
});
afterEach(() => {
  process.exitCode = undefined;
});

describe('artifact --json', () => {
  it('write, sign and validate each print one JSON document', async () => {
    const signedKey = join(dir, 'signing.key');
    const pub = (await run('device', 'keygen', '--out', join(dir, 'k2.key'), '--json')).stdout;
    const pubFile = join(dir, 'k2.pub');
    await writeFile(pubFile, (JSON.parse(pub) as { publicKey: string }).publicKey);

    const out = join(dir, 'r1.mender');
    const w = await run(
      'artifact',
      'write',
      'rootfs-image',
      '-n',
      'r1',
      '-t',
      'dev',
      '-f',
      image,
      '-o',
      out,
      '--json',
    );
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ path: out, files: 1, compression: 'gzip', signed: false });
    expect((JSON.parse(w.stdout) as { bytes: number }).bytes).toBeGreaterThan(0);

    const s = await run('artifact', 'sign', out, '-k', join(dir, 'k2.key'), '--json');
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toEqual({ path: out, signed: true });

    const v = await run('artifact', 'validate', out, '-k', pubFile, '--json');
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toEqual({ file: out, valid: true, signed: true, signature_verified: true });

    // A private key where the public one belongs is refused (exit 1), not silently derived.
    const wrong = await run('artifact', 'validate', out, '-k', signedKey, '--json');
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toMatch(/^otakit: ERR_CLI_PRIVATE_KEY: -k .*signing\.key is a private key/);
  });
});

describe('device install --json', () => {
  it('prints the outcome as one document and nothing else on stdout', async () => {
    const art = join(dir, 'inst.mender');
    expect(
      (await run('artifact', 'write', 'rootfs-image', '-n', 'inst-1', '-t', 'dev', '-f', image, '-o', art))
        .code,
    ).toBe(0);
    const r = await run(
      'device',
      'install',
      art,
      '--data-dir',
      join(dir, 'data'),
      '--device-type',
      'dev',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ outcome: 'success', artifactName: 'inst-1', error: null });
    expect(typeof doc.updateId).toBe('string');
  });
});

describe('device run --json', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('prints every event as one JSON object per line', { timeout: 60_000 }, async () => {
    const key = join(dir, 'agent.key');
    const pubFile = join(dir, 'agent.pub');
    await writeFile(pubFile, (await run('device', 'keygen', '--out', key)).stdout);
    const pre = await run(
      'devices',
      'preauthorize',
      '--server',
      sandbox.url,
      '--token',
      sandbox.managementToken(),
      '--identity',
      'mac=02:00:00:00:00:77',
      '--pubkey',
      pubFile,
    );
    expect(pre.code, pre.stderr).toBe(0);
    const agent = startJsonAgent([
      ...['--server', sandbox.url, '--key', key, '--data-dir', join(dir, 'agent')],
      ...['--device-type', 'dev', '--identity', 'mac=02:00:00:00:00:77', '--poll-interval', '1s'],
    ]);
    await agent.until('"event":"update:check"');
    expect(await agent.stop()).toBe(0);
    const text = agent.output();
    const events = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { time: string; event: string; message: string });
    expect(events[0]).toMatchObject({ event: 'agent:start', pollIntervalMs: 1000 });
    expect(events.map((e) => e.event)).toContain('auth:accepted');
    expect(events.at(-1)?.event).toBe('agent:stop');
    for (const e of events) expect(Number.isNaN(Date.parse(e.time))).toBe(false);
  });
});
