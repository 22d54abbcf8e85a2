/**
 * Start-up loads only what a command needs: the built `otakit` runs in a child process under a
 * preload that records every module it resolves (ESM and CommonJS), and the test asserts which
 * heavy modules stay unloaded. Speed itself is measured by bench/cli.bench.ts, not here.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(cliRoot, 'bin', 'otakit.js');
const preload = join(cliRoot, 'test', 'fixtures', 'record-loads.mjs');

/** Modules no artifact command, `--version` or `--help` may load. */
const HEAVY = [
  /\/fastify\//,
  /\/mqtt\//,
  /\/aedes\//,
  /\/undici\//,
  /\/cli-progress\//,
  /\/packages\/management-client\//,
  /@otakit\/management-client/,
  /\/packages\/device-client\//,
  /@otakit\/device-client/,
  /\/packages\/sandbox\//,
  /\/packages\/iot-core-adapter\//,
];

let dir: string;
let artifactFile: string;

/** Runs the built CLI with `args` (whatever its exit code); returns the modules it resolved. */
async function loaded(args: string[], name: string): Promise<string[]> {
  const log = join(dir, `${name}.log`);
  spawnSync(process.execPath, ['--import', preload, bin, ...args], {
    env: { ...process.env, OTAKIT_LOAD_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
}

function heavyIn(modules: string[]): string[] {
  return modules.filter((m) => HEAVY.some((re) => re.test(m)));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'otakit-cli-startup-'));
  artifactFile = join(dir, 'small.mender');
  execFileSync(process.execPath, [
    bin,
    'artifact',
    'write',
    'module-image',
    '-T',
    'single-file',
    '-n',
    'small-1',
    '-t',
    'dev',
    '-f',
    join(cliRoot, 'package.json'),
    '-o',
    artifactFile,
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('otakit start-up', () => {
  it('--version loads the entry point only: not commander, core or the clients', async () => {
    const modules = await loaded(['--version'], 'version');
    expect(modules.some((m) => /packages\/cli\/dist\/index\.js$/.test(m))).toBe(true);
    expect(modules.filter((m) => m.includes('/commander/'))).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
    expect(modules.filter((m) => /packages\/core\//.test(m))).toEqual([]);
  });

  it('artifact read loads core, not fastify, mqtt, undici or the clients', async () => {
    const modules = await loaded(['artifact', 'read', artifactFile], 'read');
    // The recorder works: the artifact command and core were seen.
    expect(modules.some((m) => /packages\/core\/dist\/index\.js$/.test(m))).toBe(true);
    expect(heavyIn(modules)).toEqual([]);
  });

  it('devices list --help does not load the management client', async () => {
    const modules = await loaded(['devices', 'list', '--help'], 'help');
    expect(modules.some((m) => /\/dist\/devices-[A-Z0-9]+\.js$/.test(m))).toBe(true);
    expect(heavyIn(modules)).toEqual([]);
  });

  it('the recorder sees the heavy modules when a command does load them', async () => {
    const modules = await loaded(
      ['device', 'install', artifactFile, '--data-dir', join(dir, 'data'), '--device-type', 'dev', '--json'],
      'install',
    );
    expect(heavyIn(modules).some((m) => /device-client/.test(m))).toBe(true);
  });
});
