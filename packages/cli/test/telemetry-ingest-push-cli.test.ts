/**
 * `otakit telemetry ingest-push` as a user runs it: the built CLI accepts Pub/Sub push deliveries
 * in the shape Cloud IoT Core used (data base64; attributes deviceId, deviceNumId,
 * deviceRegistryId, deviceRegistryLocation, projectId, subFolder), stores them, and serves them back
 * through its read API, which `otakit telemetry query --json` (the built CLI too) reads.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'bin', 'otakit.cjs');
const PUSH_TOKEN = 'push-secret-7f3a';

let child: ChildProcess | undefined;
let pushUrl: string;
let apiUrl: string;
let stderr = '';

/** Runs the built CLI to completion. */
function otakit(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.once('error', fail);
    p.once('exit', (code) => done({ code, stdout, stderr: err }));
  });
}

/** A push delivery as a Pub/Sub push subscription of an IoT Core registry sends it. */
function delivery(messageId: string, payload: string, deviceId = 'pump-7'): Record<string, unknown> {
  return {
    message: {
      data: Buffer.from(payload).toString('base64'),
      attributes: {
        deviceId,
        deviceNumId: '2820071372823452',
        deviceRegistryId: 'fleet',
        deviceRegistryLocation: 'europe-west1',
        projectId: 'acme-iot',
        subFolder: 'sensors',
      },
      messageId,
      publishTime: new Date().toISOString(),
    },
    subscription: 'projects/acme-iot/subscriptions/telemetry-push',
  };
}

async function push(body: unknown, token = PUSH_TOKEN): Promise<{ status: number; json: unknown }> {
  const res = await request(`${pushUrl}/?token=${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

beforeAll(async () => {
  child = spawn(
    process.execPath,
    [bin, 'telemetry', 'ingest-push', '--listen', '0', '--api', '0', '--token', PUSH_TOKEN],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const running = child;
  await new Promise<void>((done, fail) => {
    running.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const p = /deliveries at (http:\/\/\S+?)\/\n/.exec(stderr);
      const a = /read API at (http:\/\/\S+)\n/.exec(stderr);
      if (p?.[1] && a?.[1]) {
        pushUrl = p[1];
        apiUrl = a[1];
        done();
      }
    });
    running.once('exit', (code) => fail(new Error(`exited early with ${code}: ${stderr}`)));
  });
}, 60_000);

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

describe('otakit telemetry ingest-push (built CLI)', () => {
  it('stores a push delivery once, even when Pub/Sub redelivers it, and query reads it back', async () => {
    const payload = JSON.stringify({ artifact_name: 'release-7', software_version: '7.0.1', cpu: 0.61 });
    expect((await push(delivery('4711', payload))).status).toBe(204);
    expect((await push(delivery('4711', payload))).status).toBe(204); // a redelivery

    const latest = await otakit('telemetry', 'query', '--url', apiUrl, '--device', 'pump-7', '--json');
    expect(latest.code).toBe(0);
    const { devices } = JSON.parse(latest.stdout) as {
      devices: Array<{
        deviceId: string;
        registry: string;
        kind: string;
        subfolder: string;
        artifactName: string;
        softwareVersion: string;
        payload: unknown;
        metrics: Record<string, number>;
      }>;
    };
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({
      deviceId: 'pump-7',
      registry: 'projects/acme-iot/locations/europe-west1/registries/fleet',
      kind: 'event',
      subfolder: 'sensors',
      artifactName: 'release-7',
      softwareVersion: '7.0.1',
      payload: JSON.parse(payload),
      metrics: { cpu: 0.61 },
    });

    const releases = await otakit(
      'telemetry',
      'query',
      '--url',
      apiUrl,
      '--by',
      'release',
      '--metric',
      'cpu',
      '--json',
    );
    expect(releases.code).toBe(0);
    const doc = JSON.parse(releases.stdout) as { releases: Array<{ release: string; count: number }> };
    // Stored exactly once: the redelivery of message 4711 is not counted twice.
    expect(doc.releases.map((r) => [r.release, r.count])).toEqual([['release-7', 1]]);
  });

  it('stores malformed JSON telemetry raw instead of dropping it', async () => {
    expect((await push(delivery('4712', '{"cpu": 0.5', 'pump-8'))).status).toBe(204);
    const latest = await otakit('telemetry', 'query', '--url', apiUrl, '--device', 'pump-8', '--json');
    const { devices } = JSON.parse(latest.stdout) as {
      devices: Array<{ payload: unknown; payloadRaw: string; payloadEncoding: string }>;
    };
    expect(devices).toEqual([
      expect.objectContaining({ payload: null, payloadRaw: '{"cpu": 0.5', payloadEncoding: 'utf8' }),
    ]);
  });

  it('answers a malformed delivery with a 400 that says what is wrong, and stores nothing', async () => {
    const noDevice = delivery('4713', '{"cpu":1}', 'pump-9') as { message: { attributes: object } };
    noDevice.message.attributes = { ...noDevice.message.attributes, deviceId: undefined };
    const missing = await push(noDevice);
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      error: 'the pushed message has no attribute deviceId',
      code: 'ERR_TELEMETRY_INVALID',
    });

    const badData = delivery('4714', '{}', 'pump-9') as { message: { data: string } };
    badData.message.data = 'not base64!';
    const notBase64 = await push(badData);
    expect(notBase64.status).toBe(400);
    expect(notBase64.json).toMatchObject({ code: 'ERR_TELEMETRY_INVALID' });
    expect((notBase64.json as { error: string }).error).toMatch(/not base64/);

    const notJson = await push('{"message": ');
    expect(notJson.status).toBe(400);

    expect((await push(delivery('4715', '{"cpu":1}', 'pump-9'), 'wrong-token')).status).toBe(401);

    const latest = await otakit('telemetry', 'query', '--url', apiUrl, '--device', 'pump-9', '--json');
    expect(JSON.parse(latest.stdout)).toEqual({ devices: [] });
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const running = child as ChildProcess;
    const exited = new Promise<number | null>((done) => running.once('exit', (code) => done(code)));
    running.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM, stopping');
  });
});
