import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ArtifactInfo, readArtifact, writeArtifact } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import { DeviceClient, type InstalledArtifact, type Installer } from '../../src/index.js';

const vectors = fileURLToPath(new URL('../../../../../shared/vectors/artifacts/', import.meta.url));

/** Takes every payload and installs nothing: the test is about the header, not the image. */
const acceptAll: Installer = {
  supports: () => true,
  async download(_ctx, files) {
    for await (const file of files) for await (const _ of file.stream);
  },
  install: async () => {},
  needsReboot: async () => 'No',
  reboot: async () => {},
  verifyReboot: async () => {},
  commit: async () => {},
  supportsRollback: async () => true,
  rollback: async () => {},
  rollbackReboot: async () => {},
  verifyRollbackReboot: async () => {},
  failure: async () => {},
  cleanup: async () => {},
};

/** A ustar archive of regular files (what the artifact format is made of). */
function tar(entries: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { name, data } of entries) {
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A two-payload module artifact (core's writer writes one payload per artifact): each payload's
 * type-info adds provides, the first also clears.
 */
async function twoPayloadArtifact(dir: string): Promise<string> {
  const version = json({ format: 'mender', version: 3 });
  const header = tar([
    {
      name: 'header-info',
      data: json({
        payloads: [{ type: 'mod-a' }, { type: 'mod-b' }],
        artifact_provides: { artifact_name: 'multi-1', artifact_group: 'field' },
        artifact_depends: { device_type: ['board-a'] },
      }),
    },
    {
      name: 'headers/0000/type-info',
      data: json({
        type: 'mod-a',
        artifact_provides: { 'mod-a.version': '1.1' },
        clears_artifact_provides: ['mod-a.*'],
      }),
    },
    {
      name: 'headers/0001/type-info',
      data: json({ type: 'mod-b', artifact_provides: { 'mod-b.version': '2.0' } }),
    },
  ]);
  const a = Buffer.from('payload a\n');
  const b = Buffer.from('payload b\n');
  const manifest = Buffer.from(
    [
      `${sha256(a)}  data/0000/a.txt`,
      `${sha256(b)}  data/0001/b.txt`,
      `${sha256(header)}  header.tar`,
      `${sha256(version)}  version`,
      '',
    ].join('\n'),
  );
  const path = join(dir, 'multi.mender');
  await writeFile(
    path,
    tar([
      { name: 'version', data: version },
      { name: 'manifest', data: manifest },
      { name: 'header.tar', data: header },
      { name: 'data/0000.tar', data: tar([{ name: 'a.txt', data: a }]) },
      { name: 'data/0001.tar', data: tar([{ name: 'b.txt', data: b }]) },
    ]),
  );
  return path;
}

/** What the device stores, in core's shape: name and group back among the provides. */
function storedAsCoreProvides(installed: InstalledArtifact): Record<string, string> {
  return {
    ...installed.provides,
    artifact_name: installed.artifactName,
    ...(installed.artifactGroup ? { artifact_group: installed.artifactGroup } : {}),
  };
}

async function install(
  path: string,
  before?: InstalledArtifact,
): Promise<{ installed: InstalledArtifact; info: ArtifactInfo }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'otakit-provides-'));
  const client = new DeviceClient({ deviceType: 'board-a', dataDir, installers: [acceptAll] });
  if (before) await client.provides.write(before);
  const result = await client.installFromFile(path);
  expect(result).toMatchObject({ outcome: 'success' });
  return { installed: await client.installed(), info: await readArtifact(createReadStream(path)) };
}

async function installAndCompare(
  path: string,
): Promise<{ installed: InstalledArtifact; info: ArtifactInfo }> {
  const { installed, info } = await install(path);
  expect(storedAsCoreProvides(installed)).toEqual(info.provides);
  return { installed, info };
}

describe('provides the device commits', () => {
  it('equal core’s merged provides for an augmented artifact, augment provides included', async () => {
    // Made by mender-artifact with `--augment-provides delta.src:def`.
    const { installed, info } = await installAndCompare(
      join(vectors, 'module-augmented-none-unsigned.mender'),
    );
    expect(info.augmented).toBe(true);
    expect(installed.provides['delta.src']).toBe('def');
  });

  it('equal core’s merged provides for a two-payload artifact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-multi-'));
    const { installed, info } = await installAndCompare(await twoPayloadArtifact(dir));
    expect(info.payloadTypes).toEqual(['mod-a', 'mod-b']);
    expect(installed).toEqual({
      artifactName: 'multi-1',
      artifactGroup: 'field',
      provides: { 'mod-a.version': '1.1', 'mod-b.version': '2.0' },
    });
  });

  it('equal core’s merged provides for an artifact from core’s writer, after its clears', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-written-'));
    const path = join(dir, 'written.mender');
    await writeArtifact(
      {
        type: 'module-image',
        moduleType: 'single-file',
        artifactName: 'written-1',
        artifactGroup: 'lab',
        deviceTypes: ['board-a'],
        provides: { 'single-file.app.version': '3.1' },
        clearsProvides: ['single-file.app.*'],
        files: [{ name: 'app.conf', content: Buffer.from('x=1\n') }],
      },
      path,
    );
    await installAndCompare(path);
    // On a device that had provides: the cleared ones go, the others stay, core's are added.
    const { installed, info } = await install(path, {
      artifactName: 'old',
      provides: { 'single-file.app.version': '3.0', 'single-file.app.channel': 'beta', 'vendor.hw': 'rev-b' },
    });
    expect(storedAsCoreProvides(installed)).toEqual({ ...info.provides, 'vendor.hw': 'rev-b' });
  });
});
