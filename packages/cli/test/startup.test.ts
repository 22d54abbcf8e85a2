/**
 * Start-up loads only what a command needs: the built `otakit` runs in a child process under a
 * preload that records every module it resolves (ESM and CommonJS), and the test asserts which
 * heavy modules stay unloaded, and which build runs: `--help` and `artifact ...` the CommonJS
 * bundle (no ESM loader, commander inside), other commands the ESM build. Speed itself is measured
 * by bench/cli.bench.ts, not here.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(cliRoot, 'bin', 'otakit.cjs');
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

/** How {@link loaded} lists the CommonJS bundle, which the recorder cannot see load. */
const BUNDLE = 'bundle:otakit-main.cjs';

/**
 * Runs the built CLI with `args` (whatever its exit code); returns the modules it resolved. The
 * CommonJS bundle runs as a `vm.Script` (through the code cache), not through `require`, so the
 * recorder cannot see it load: it is listed as `bundle:otakit-main.cjs` when the run wrote its
 * code cache, which only the bundle's loader does (each run gets a fresh cache directory).
 */
async function loaded(args: string[], name: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const log = join(dir, `${name}.log`);
  const cache = join(dir, `${name}-cache`);
  spawnSync(process.execPath, ['--import', preload, bin, ...args], {
    env: { ...process.env, ...env, OTAKIT_LOAD_LOG: log, OTAKIT_COMPILE_CACHE: cache },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const bundles = (await readdir(cache).catch(() => [] as string[]))
    .filter((f) => f.startsWith('otakit-main.cjs-'))
    .map(() => BUNDLE);
  return [...(await readFile(log, 'utf8')).split('\n').filter(Boolean), ...bundles];
}

function heavyIn(modules: string[]): string[] {
  return modules.filter((m) => HEAVY.some((re) => re.test(m)));
}

/** Modules resolved by the ESM loader, except the entry (which `--import` sends through it). */
function esmLoaded(modules: string[]): string[] {
  return modules.filter((m) => m.startsWith('esm:') && !m.endsWith('/bin/otakit.cjs'));
}

/**
 * Whether commander ran: bundled in the CommonJS build, it shows as the builtins it requires when
 * it loads, of which node:process is required by nothing else on these paths.
 */
function commanderRan(modules: string[]): boolean {
  return modules.some((m) => /^cjs:(node:)?process$/.test(m) || m.includes('/commander/'));
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
    expect(modules).toContain(`cjs:${join(cliRoot, 'dist', 'otakit.cjs')}`);
    expect(modules.filter((m) => /otakit-main\.cjs$|\/cli\/dist\/index\.js$/.test(m))).toEqual([]);
    expect(modules).not.toContain(BUNDLE);
    expect(commanderRan(modules)).toBe(false);
    expect(esmLoaded(modules)).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
    expect(modules.filter((m) => /packages\/core\//.test(m))).toEqual([]);
  });

  it('artifact read runs the CommonJS bundle with core inside, without the ESM loader or the clients', async () => {
    const modules = await loaded(['artifact', 'read', artifactFile], 'read');
    expect(modules).toContain(BUNDLE);
    // The recorder works (commander ran, its builtins were seen); core is bundled, its own
    // CommonJS build (with the HTTP client, keys and all) does not load.
    expect(commanderRan(modules)).toBe(true);
    expect(modules.filter((m) => /packages\/core\//.test(m))).toEqual([]);
    expect(esmLoaded(modules)).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
  });

  it('artifact read does not load what only writing or signing needs', async () => {
    const modules = await loaded(['artifact', 'read', artifactFile], 'read-lazy');
    // Neither the bundled commander (executable subcommands) nor core (xz writing) loads
    // node:child_process (and with it net and dgram) before it spawns something.
    expect(modules.filter((m) => /child_process/.test(m))).toEqual([]);
    expect(modules.filter((m) => /zstd-wasm|node-liblzma|\/jose\//.test(m))).toEqual([]);
  });

  it('otakit --help runs the CommonJS bundle and loads no command group', async () => {
    const modules = await loaded(['--help'], 'root-help');
    expect(modules).toContain(BUNDLE);
    expect(esmLoaded(modules)).toEqual([]);
    expect(modules.filter((m) => /packages\/core\//.test(m))).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
  });

  it('devices list --help does not load the management client', async () => {
    const modules = await loaded(['devices', 'list', '--help'], 'help');
    // Commands other than artifact run the ESM build, not the CommonJS bundle.
    expect(modules.some((m) => /\/dist\/devices-[A-Z0-9]+\.js$/.test(m))).toBe(true);
    expect(modules.filter((m) => /otakit-main\.cjs$/.test(m))).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
  });

  it('a zstd payload is decoded by the zstd program; the WebAssembly decoder loads, from its own file, only without one', async () => {
    const zstdFile = join(dir, 'small-zstd.mender');
    execFileSync(process.execPath, [
      bin,
      ...['artifact', 'write', 'module-image', '-T', 'single-file', '-n', 'small-z', '-t', 'dev'],
      ...['-f', join(cliRoot, 'package.json'), '-o', zstdFile, '--compression', 'zstd'],
    ]);
    const wasm = `cjs:${join(cliRoot, 'dist', 'otakit-zstd-wasm.cjs')}`;
    const withProgram = await loaded(['artifact', 'validate', zstdFile], 'validate-zstd');
    expect(withProgram).toContain(BUNDLE);
    expect(withProgram).not.toContain(wasm);
    const withoutProgram = await loaded(['artifact', 'validate', zstdFile], 'validate-zstd-wasm', {
      OTAKIT_ZSTD: '/nonexistent/otakit-test/zstd',
    });
    expect(withoutProgram).toContain(BUNDLE);
    expect(withoutProgram).toContain(wasm);
  });

  it('the recorder sees the heavy modules when a command does load them', async () => {
    // The management commands load their client (and undici) from the ESM build; nothing listens
    // on port 9, so the command fails after loading them.
    const modules = await loaded(
      ['devices', 'list', '--server', 'http://127.0.0.1:9', '--token', 'not-a-token', '--json'],
      'devices-list',
    );
    expect(heavyIn(modules).some((m) => /management-client/.test(m))).toBe(true);
    expect(heavyIn(modules).some((m) => /\/undici\//.test(m))).toBe(true);
  });

  it('device commands run the device bundle, which has the device client in it', async () => {
    const modules = await loaded(
      ['device', 'install', artifactFile, '--data-dir', join(dir, 'data'), '--device-type', 'dev', '--json'],
      'install',
    );
    expect(modules).toContain(`cjs:${join(cliRoot, 'dist', 'otakit-device.cjs')}`);
    // bin.ts requires it with its own `require`, not one made by node:module.
    expect(modules).not.toContain('cjs:node:module');
    expect(esmLoaded(modules)).toEqual([]);
    expect(modules.filter((m) => /otakit-main\.cjs$|\/cli\/dist\/index\.js$/.test(m))).toEqual([]);
    expect(heavyIn(modules)).toEqual([]);
  });
});
