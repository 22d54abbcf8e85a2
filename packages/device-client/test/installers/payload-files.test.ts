/**
 * writePayloadFile's digest (src/installers/payload-files.ts): a file the reader streams from a
 * verified artifact carries the manifest's SHA-256, which is reported without hashing the bytes a
 * second time; a stream without one is hashed; and a file whose bytes do not match its manifest
 * fails instead of reporting the digest.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArtifactError, readArtifact, writeArtifact } from '@otakit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WrittenFile, writePayloadFile } from '../../src/installers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('writePayloadFile', () => {
  let dir: string;
  let image: Buffer;
  let artifactPath: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otakit-payload-files-'));
    // A marker, so that the test can find (and corrupt) the payload in the uncompressed artifact.
    image = Buffer.concat([Buffer.from('PAYLOAD-START'), Buffer.alloc(300_000, 7), Buffer.from('END')]);
    await writeFile(join(dir, 'rootfs.img'), image);
    artifactPath = join(dir, 'a.mender');
    await writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: 'release-1',
        deviceTypes: ['dev'],
        files: [join(dir, 'rootfs.img')],
        compression: 'none',
      },
      artifactPath,
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Reads `path` and writes its one payload file to `dir/out.img`. */
  async function install(path: string): Promise<{ written: WrittenFile; listed: string }> {
    let written: WrittenFile | undefined;
    let listed = '';
    await readArtifact(createReadStream(path), {
      onPayloadFile: async (file) => {
        listed = file.sha256;
        written = await writePayloadFile(join(dir, 'out.img'), file);
      },
    });
    if (!written) throw new Error('no payload file');
    return { written, listed };
  }

  it("reports the manifest's digest for a file the reader verified, which is the written bytes' digest", async () => {
    const { written, listed } = await install(artifactPath);
    expect(listed).toBe(sha(image));
    expect(written).toEqual({ size: image.length, sha256: sha(image) });
    expect(sha(await readFile(join(dir, 'out.img')))).toBe(sha(image));
  });

  it('reports a digest it is given without hashing, and hashes a stream given none', async () => {
    const given = 'ab'.repeat(32);
    const trusted = await writePayloadFile(join(dir, 'x.img'), {
      stream: Readable.from([image]),
      sha256: given,
    });
    expect(trusted).toEqual({ size: image.length, sha256: given });
    const hashed = await writePayloadFile(join(dir, 'y.img'), { stream: Readable.from([image.subarray(5)]) });
    expect(hashed).toEqual({ size: image.length - 5, sha256: sha(image.subarray(5)) });
  });

  it('fails, reporting no digest, when the bytes do not match the manifest', async () => {
    const bytes = await readFile(artifactPath);
    const at = bytes.indexOf('PAYLOAD-START') + 20;
    expect(at).toBeGreaterThan(20);
    bytes[at] = (bytes[at] as number) ^ 0xff;
    const corrupt = join(dir, 'corrupt.mender');
    await writeFile(corrupt, bytes);
    const err = await install(corrupt).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_CHECKSUM_MISMATCH');
  });
});
