/**
 * `otakit device`: keygen and install in-process; `run` as the built bin, a real process against
 * the sandbox, stopped with SIGTERM and killed with SIGKILL mid-update.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeArtifact } from '@otakit/core';
import { ProvidesStore, SimulatedInstaller } from '@otakit/device-client';
import { type Sandbox, startSandbox } from '@otakit/sandbox';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWindow } from '../src/commands/device-agent.js';
import { AGENT_WASM_FLAGS, DEVICE_V8_FLAGS, UPDATE_V8_FLAGS } from '../src/commands/device-v8.js';
import { parseIdentity } from '../src/shared/flags.js';
import { run, startJsonAgent } from './helpers.js';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function artifact(
  dir: string,
  name: string,
  deviceType = 'test-device',
): Promise<{ path: string; image: Buffer }> {
  const image = randomBytes(100_000);
  await writeFile(join(dir, `${name}.img`), image);
  const path = join(dir, `${name}.mender`);
  await writeArtifact(
    {
      type: 'rootfs-image',
      artifactName: name,
      deviceTypes: [deviceType],
      files: [join(dir, `${name}.img`)],
    },
    path,
  );
  return { path, image };
}

/** Resolves when the child printed a line matching `re`. */
function waitFor(child: ChildProcess, re: RegExp, log: { text: string }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const check = () => {
      if (re.test(log.text)) {
        child.stdout?.off('data', check);
        resolvePromise();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      if (!re.test(log.text)) reject(new Error(`exited (${code}) before ${re}: ${log.text}`));
    });
    check();
  });
}

function startAgent(args: string[]): {
  child: ChildProcess;
  log: { text: string };
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [join(cliRoot, 'bin', 'otakit.cjs'), 'device', 'run', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = { text: '' };
  child.stdout?.on('data', (d: Buffer) => {
    log.text += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log.text += d.toString();
  });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, log, exit };
}

describe('otakit device', () => {
  const sandboxes: Sandbox[] = [];
  afterEach(async () => {
    for (const s of sandboxes.splice(0)) await s.close();
  });

  it('keygen writes a 0600 private key and prints the public key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-dev-'));
    const out = join(dir, 'device.pem');
    const r = await run('device', 'keygen', '--type', 'ecdsa-p256', '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect(await readFile(out, 'utf8')).toMatch(/PRIVATE KEY/);
  });

  it('install runs a standalone update to success through the simulated installer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-dev-'));
    const art = await artifact(dir, 'standalone-1');
    const dataDir = join(dir, 'data');
    const r = await run('device', 'install', art.path, '--data-dir', dataDir, '--device-type', 'test-device');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/state ArtifactCommit/);
    expect(r.stdout).toMatch(/success/);
    expect((await new ProvidesStore(dataDir).read()).artifactName).toBe('standalone-1');
    const sim = new SimulatedInstaller({ dir: join(dataDir, 'device') });
    expect(Object.values(await sim.currentContent())[0]?.equals(art.image)).toBe(true);
  });

  it('install exits non-zero for an artifact of another device type', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-dev-'));
    const art = await artifact(dir, 'other-1', 'another-board');
    const r = await run(
      'device',
      'install',
      art.path,
      '--data-dir',
      join(dir, 'data'),
      '--device-type',
      'test-device',
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/failure/);
    expect(r.stderr).toMatch(/^otakit: ERR_CLI_FAILED: install of .* ended in failure/);
  });

  async function serverWithDeployment(mac: string, name: string) {
    const sandbox = await startSandbox({ port: 0 });
    sandboxes.push(sandbox);
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-dev-'));
    const keyFile = join(dir, 'device.pem');
    const pub = (await run('device', 'keygen', '--out', keyFile)).stdout;
    const auth = { authorization: `Bearer ${sandbox.managementToken()}`, 'content-type': 'application/json' };
    const pre = await fetch(`${sandbox.url}/api/management/v2/devauth/devices`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ identity_data: { mac }, pubkey: pub }),
    });
    const deviceId = pre.headers.get('location')!.split('/').pop()!;
    const art = await artifact(dir, name);
    const form = new FormData();
    form.append('artifact', new Blob([await readFile(art.path)]), 'a.mender');
    await fetch(`${sandbox.url}/api/management/v1/deployments/artifacts`, {
      method: 'POST',
      headers: { authorization: auth.authorization },
      body: form,
    });
    const dep = await fetch(`${sandbox.url}/api/management/v1/deployments/deployments`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'cli', artifact_name: name, devices: [deviceId] }),
    });
    const deploymentId = dep.headers.get('location')!.split('/').pop()!;
    const dataDir = join(dir, 'data');
    const status = async () => {
      const list = (await (
        await fetch(`${sandbox.url}/api/management/v1/deployments/deployments/${deploymentId}/devices`, {
          headers: auth,
        })
      ).json()) as { id: string; status: string }[];
      return list.find((d) => d.id === deviceId)?.status;
    };
    const args = [
      '--server',
      sandbox.url,
      '--key',
      keyFile,
      '--data-dir',
      dataDir,
      '--device-type',
      'test-device',
      '--identity',
      `mac=${mac}`,
      '--update-poll',
      '1',
      '--retry-poll',
      '1',
    ];
    return { args, status, dataDir };
  }

  it('run updates from the server, resumes after SIGKILL and stops cleanly on SIGTERM', {
    timeout: 120_000,
  }, async () => {
    const { args, status, dataDir } = await serverWithDeployment('02:00:00:00:00:aa', 'cli-release-2');
    const first = startAgent(args);
    await waitFor(first.child, /state ArtifactReboot/, first.log);
    first.child.kill('SIGKILL');
    await first.exit;

    const second = startAgent(args);
    await waitFor(second.child, /update \S+ success/, second.log);
    expect(second.log.text).toMatch(/resuming update/);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(second.log.text).toMatch(/agent stopped/);

    expect(await status()).toBe('success');
    expect((await new ProvidesStore(dataDir).read()).artifactName).toBe('cli-release-2');
  });

  it('run sets its V8 flags before the device bundle loads, and lets V8 optimise again when an update starts', {
    timeout: 120_000,
  }, async () => {
    const { args, status } = await serverWithDeployment('02:00:00:00:00:cc', 'cli-v8-flags');
    const dir = await mkdtemp(join(tmpdir(), 'otakit-cli-v8-'));
    const log = join(dir, 'loads.log');
    const preload = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'record-loads.mjs');
    try {
      const agent = startJsonAgent(args, {
        NODE_OPTIONS: `--import=${preload}`,
        OTAKIT_LOAD_LOG: log,
        OTAKIT_V8_LOG: '1',
      });
      try {
        await agent.until('"event":"update:done"');
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      expect(agent.output()).toMatch(/"outcome":"success"/);
      expect(await status()).toBe('success');
      const lines = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
      const bundle = lines.findIndex((l) => l.endsWith('/dist/otakit-device.cjs'));
      expect(bundle).toBeGreaterThan(-1);
      expect(lines.filter((l) => l.startsWith('v8:'))).toEqual(
        [...DEVICE_V8_FLAGS, ...AGENT_WASM_FLAGS, ...UPDATE_V8_FLAGS].map((f) => `v8:${f}`),
      );
      expect(lines.indexOf(`v8:${DEVICE_V8_FLAGS[0]}`)).toBeLessThan(bundle);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('run --download-only holds before install until SIGUSR1', { timeout: 120_000 }, async () => {
    const { args, status } = await serverWithDeployment('02:00:00:00:00:bb', 'cli-held');
    const agent = startAgent([...args, '--download-only']);
    await waitFor(agent.child, /paused beforeInstall: download-only/, agent.log);
    expect(await status()).toBe('pause_before_installing');
    agent.child.kill('SIGUSR1');
    await waitFor(agent.child, /update \S+ success/, agent.log);
    agent.child.kill('SIGTERM');
    expect(await agent.exit).toBe(0);
    expect(await status()).toBe('success');
  });

  it('parses --identity keys __proto__, constructor and prototype as ordinary attributes', () => {
    const identity = parseIdentity(['__proto__=x', 'constructor=y', 'constructor=z', 'prototype=p']);
    expect(Object.entries(identity)).toEqual([
      ['__proto__', 'x'],
      ['constructor', ['y', 'z']],
      ['prototype', 'p'],
    ]);
    expect(Object.getPrototypeOf(identity)).toBe(Object.prototype);
  });

  it('parses maintenance windows and rejects bad ones', () => {
    expect(parseWindow('02:00-05:30')).toEqual({ start: '02:00', end: '05:30', utc: true });
    expect(() => parseWindow('2am-5am')).toThrow(/HH:MM-HH:MM/);
  });
});
