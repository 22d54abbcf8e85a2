import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DeviceKey, generateDeviceKey, writeArtifact } from '@otakit/core';
import type { Sandbox } from '@otakit/sandbox';

/** A tiny management API client for tests (fetch, admin token from the sandbox). */
export class Mgmt {
  constructor(readonly sandbox: Sandbox) {}

  async call(method: string, path: string, body?: unknown, raw?: FormData): Promise<Response> {
    const res = await fetch(`${this.sandbox.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.sandbox.managementToken()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  }

  async preauthorize(identity: Record<string, string>, pubkey: string): Promise<string> {
    const res = await this.call('POST', '/api/management/v2/devauth/devices', {
      identity_data: identity,
      pubkey,
    });
    return res.headers.get('location')!.split('/').pop()!;
  }

  async upload(path: string): Promise<string> {
    const form = new FormData();
    form.append('artifact', new Blob([await readFile(path)]), 'artifact.mender');
    const res = await this.call('POST', '/api/management/v1/deployments/artifacts', undefined, form);
    return res.headers.get('location')!.split('/').pop()!;
  }

  async deploy(artifactName: string, devices: string[]): Promise<string> {
    const res = await this.call('POST', '/api/management/v1/deployments/deployments', {
      name: `deploy-${artifactName}-${randomBytes(3).toString('hex')}`,
      artifact_name: artifactName,
      devices,
    });
    return res.headers.get('location')!.split('/').pop()!;
  }

  async abort(deploymentId: string): Promise<void> {
    await this.call('PUT', `/api/management/v1/deployments/deployments/${deploymentId}/status`, {
      status: 'aborted',
    });
  }

  async deviceStatus(deploymentId: string, deviceId: string): Promise<string | undefined> {
    const res = await this.call('GET', `/api/management/v1/deployments/deployments/${deploymentId}/devices`);
    const list = (await res.json()) as { id: string; status: string }[];
    return list.find((d) => d.id === deviceId)?.status;
  }

  async log(deploymentId: string, deviceId: string): Promise<string> {
    const res = await this.call(
      'GET',
      `/api/management/v1/deployments/deployments/${deploymentId}/devices/${deviceId}/log`,
    );
    return res.text();
  }
}

/** Writes a rootfs-image artifact with a random image of `size` bytes. */
export async function makeArtifact(opts: {
  name: string;
  deviceType?: string;
  version?: string;
  size?: number;
  signingKey?: string;
  dir?: string;
}): Promise<{ path: string; image: Buffer }> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'otakit-art-')));
  const image = randomBytes(opts.size ?? 64 * 1024);
  const imagePath = join(dir, `${opts.name}.img`);
  await writeFile(imagePath, image);
  const path = join(dir, `${opts.name}.mender`);
  await writeArtifact(
    {
      type: 'rootfs-image',
      artifactName: opts.name,
      deviceTypes: [opts.deviceType ?? 'test-device'],
      files: [imagePath],
      compression: 'none',
      ...(opts.version ? { provides: { 'rootfs-image.version': opts.version } } : {}),
      ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
    },
    path,
  );
  return { path, image };
}

/** A device key pair. */
export async function deviceKey(): Promise<DeviceKey> {
  return generateDeviceKey({ type: 'ed25519' });
}
