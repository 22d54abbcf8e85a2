// The device of the power-cut replay: a DeviceClient on a SimulatedInstaller whose whole state lives
// under one root (`root/data` for the agent, `root/device` for the simulated slots and bootloader),
// with its key loaded or created on first boot as a real agent does.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateDeviceKey } from '@otakit/core';
import { DeviceClient, SimulatedInstaller } from '../../src/index.js';

/** Where the device keeps its state under a root. */
export function devicePaths(root: string) {
  const dataDir = join(root, 'data');
  return { dataDir, deviceDir: join(root, 'device'), keyPath: join(dataDir, 'device.key') };
}

/** How one agent run ended. */
export interface AgentRun {
  /** `success`/`failure` of the update it ran, `idle` when the server had nothing, `timeout`. */
  outcome: string;
  error?: string | undefined;
  states: string[];
}

/**
 * Runs the agent on `root` until its update ends or the server offers none (one poll). The key is
 * loaded from `root/data/device.key` (created when absent, as on first boot). A run that does not
 * end within `guardMs` is stopped and reported as `timeout` (a hang is a failure, not a wait).
 */
export async function runAgent(
  root: string,
  opts: { serverUrl: string; serial: string; healthFail: boolean; guardMs?: number },
): Promise<AgentRun> {
  const { dataDir, deviceDir, keyPath } = devicePaths(root);
  const key = await loadOrCreateDeviceKey(keyPath, { type: 'ed25519' });
  const client = new DeviceClient({
    serverUrl: opts.serverUrl,
    privateKey: key.privateKey,
    identity: { serial: opts.serial },
    deviceType: 'test-device',
    dataDir,
    installers: [new SimulatedInstaller({ dir: deviceDir })],
    poll: { updateIntervalMs: 50, retry: { baseDelayMs: 20, maxDelayMs: 100 } },
    statusReports: { retry: { baseDelayMs: 5 } },
    stateScripts: false,
    download: { retry: { baseDelayMs: 5, maxDelayMs: 20 }, checkpointBytes: 16 * 1024 },
    ...(opts.healthFail ? { healthChecks: [{ name: 'always-fails', check: () => false }] } : {}),
  });
  const run: AgentRun = { outcome: 'timeout', states: [] };
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), opts.guardMs ?? 60_000);
  client.events.on('state:enter', (e) => run.states.push(e.state));
  client.events.on('update:done', (e) => {
    run.outcome = e.outcome;
    run.error = e.error === undefined ? undefined : String(e.error);
    ac.abort();
  });
  client.events.on('update:check', (e) => {
    if (!e.deploymentId && run.outcome === 'timeout') {
      run.outcome = 'idle';
      ac.abort();
    }
  });
  try {
    await client.run({ signal: ac.signal });
  } finally {
    clearTimeout(guard);
    await client.close();
  }
  return run;
}

/** The PEM of the key file under `root`, or undefined when there is none. */
export async function keyPem(root: string): Promise<string | undefined> {
  return readFile(devicePaths(root).keyPath, 'utf8').catch(() => undefined);
}
