import { openAsBlob } from 'node:fs';
import { type DeviceKey, generateDeviceKey, signMenderRequest } from '@otakit/core';
import { FormData, request } from 'undici';
import type { Sandbox } from '../src/index.js';

/** A response read to the end. */
export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies dynamically
  json: () => any;
}

/** Options of {@link call}. */
export interface CallOptions {
  token?: string;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

/** Makes one HTTP request with undici and reads the whole body. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Res> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(new URL(path, base), { method: method as 'GET', headers, body });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const text = buf.toString('utf8');
  return {
    status: res.statusCode,
    headers: res.headers as Res['headers'],
    text,
    body: buf,
    json: () => JSON.parse(text),
  };
}

/** Logs in as the sandbox admin over HTTP and returns the management JWT. */
export async function login(sandbox: Sandbox): Promise<string> {
  const basic = Buffer.from(`${sandbox.adminEmail}:${sandbox.adminPassword}`).toString('base64');
  const res = await call(sandbox.url, 'POST', '/api/management/v1/useradm/auth/login', {
    headers: { authorization: `Basic ${basic}` },
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.text;
}

/** A simulated device: identity plus key. */
export interface TestDevice {
  identity: Record<string, string>;
  key: DeviceKey;
}

/** Creates a device with a fresh key of the given type. */
export async function newDevice(
  mac: string,
  type: 'rsa' | 'ecdsa-p256' | 'ed25519' = 'ed25519',
): Promise<TestDevice> {
  const key = await generateDeviceKey(type === 'rsa' ? { type, bits: 2048 } : { type });
  return { identity: { mac }, key };
}

/** Sends a signed auth request the way the Mender client does (signature over the exact bytes). */
export async function authRequest(
  base: string,
  device: TestDevice,
  extra: Record<string, unknown> = {},
): Promise<Res> {
  const body = JSON.stringify({
    id_data: JSON.stringify(device.identity),
    pubkey: device.key.publicKeyPem,
    ...extra,
  });
  return call(base, 'POST', '/api/devices/v1/authentication/auth_requests', {
    body,
    headers: {
      'content-type': 'application/json',
      'x-men-signature': signMenderRequest(body, device.key.privateKey),
    },
  });
}

/** Finds the device id of `device` through the management API. */
export async function deviceIdOf(base: string, token: string, device: TestDevice): Promise<string> {
  const res = await call(base, 'GET', '/api/management/v2/devauth/devices?per_page=500', { token });
  const found = (res.json() as { id: string; identity_data: Record<string, unknown> }[]).find(
    (d) => JSON.stringify(d.identity_data) === JSON.stringify(device.identity),
  );
  if (!found) throw new Error('device not found');
  return found.id;
}

/** Accepts the device's (only) pending auth set and returns a device token. */
export async function acceptDevice(
  base: string,
  token: string,
  device: TestDevice,
): Promise<{ id: string; jwt: string }> {
  const first = await authRequest(base, device);
  if (first.status === 200) return { id: await deviceIdOf(base, token, device), jwt: first.text };
  const id = await deviceIdOf(base, token, device);
  const dev = (await call(base, 'GET', `/api/management/v2/devauth/devices/${id}`, { token })).json();
  const aid = dev.auth_sets[0].id as string;
  const put = await call(base, 'PUT', `/api/management/v2/devauth/devices/${id}/auth/${aid}/status`, {
    token,
    json: { status: 'accepted' },
  });
  if (put.status !== 204) throw new Error(`accept failed: ${put.status} ${put.text}`);
  const again = await authRequest(base, device);
  if (again.status !== 200) throw new Error(`auth after accept failed: ${again.status} ${again.text}`);
  return { id, jwt: again.text };
}

/** The shared test vectors directory (../shared beside the repository). */
export const VECTORS = new URL('../../../../shared/vectors/', import.meta.url);
/** The shared Mender specs directory. */
export const SPECS = new URL('../../../../shared/specs/mender/', import.meta.url);

/** Uploads a .mender file (multipart, `artifact` last) and returns the response. */
export async function uploadArtifact(
  base: string,
  token: string,
  file: URL,
  fields: Record<string, string> = {},
): Promise<Res> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('artifact', await openAsBlob(file), file.pathname.split('/').at(-1));
  const res = await request(new URL('/api/management/v1/deployments/artifacts', base), {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${token}` },
  });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const text = buf.toString('utf8');
  return {
    status: res.statusCode,
    headers: res.headers as Res['headers'],
    text,
    body: buf,
    json: () => JSON.parse(text),
  };
}

/** A vector artifact's URL. */
export const vector = (name: string): URL => new URL(`artifacts/${name}`, VECTORS);
