import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompressor } from '../../src/artifact/decompress.js';
import { ArtifactError } from '../../src/artifact/errors.js';
import { gunzipChunks } from '../../src/artifact/gunzip.js';

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<{ data: Buffer; slices: Uint8Array[] }> {
  const slices: Uint8Array[] = [];
  const copies: Buffer[] = [];
  for await (const slice of gen) {
    slices.push(slice);
    copies.push(Buffer.from(slice));
  }
  return { data: Buffer.concat(copies), slices };
}

describe.each([
  ['zlib handle', false],
  ['zlib stream (fallback)', true],
])('gunzipChunks through the %s', (_name, stream) => {
  const opts = { sliceBytes: 16 * 1024, lend: false, stream };

  it('decodes input split anywhere, in slices no larger than asked', async () => {
    const plain = Buffer.concat([randomBytes(60_000), Buffer.alloc(60_000, 'abc')]);
    for (const split of [3, 777, 65_536, 1 << 20]) {
      const { data, slices } = await collect(gunzipChunks(chunked(gzipSync(plain), split), opts));
      expect(data.equals(plain)).toBe(true);
      expect(slices.every((s) => s.length > 0 && s.length <= 16 * 1024)).toBe(true);
    }
  });

  it('decodes concatenated gzip members as one stream, as gunzip does', async () => {
    const a = Buffer.from('first member\n');
    const b = randomBytes(50_000);
    const { data } = await collect(
      gunzipChunks(chunked(Buffer.concat([gzipSync(a), gzipSync(b)]), 1000), opts),
    );
    expect(data.equals(Buffer.concat([a, b]))).toBe(true);
  });

  it('ignores zero padding after the stream', async () => {
    const plain = randomBytes(10_000);
    const padded = Buffer.concat([gzipSync(plain), Buffer.alloc(4096)]);
    const { data } = await collect(gunzipChunks(chunked(padded, 512), opts));
    expect(data.equals(plain)).toBe(true);
  });

  it('rejects a stream cut short', async () => {
    const gz = gzipSync(randomBytes(100_000));
    await expect(collect(gunzipChunks(chunked(gz.subarray(0, gz.length - 100), 4096), opts))).rejects.toThrow(
      /unexpected end of file/,
    );
  });

  it('rejects empty input and corrupt data', async () => {
    await expect(collect(gunzipChunks(chunked(Buffer.alloc(0), 1), opts))).rejects.toThrow(
      /unexpected end of file/,
    );
    const gz = gzipSync(randomBytes(100_000));
    gz.writeUInt8(gz.readUInt8(5000) ^ 0xff, 5000);
    await expect(collect(gunzipChunks(chunked(gz, 4096), opts))).rejects.toMatchObject({
      code: expect.stringMatching(/^Z_/),
    });
  });
});

describe('gunzipChunks lending', () => {
  it('lends views into one reused buffer, or hands out copies', async () => {
    const gz = gzipSync(randomBytes(300_000));
    const lent = await collect(gunzipChunks(chunked(gz, 65_536), { sliceBytes: 32 * 1024, lend: true }));
    expect(new Set(lent.slices.map((s) => s.buffer)).size).toBe(1);
    const copied = await collect(gunzipChunks(chunked(gz, 65_536), { sliceBytes: 32 * 1024, lend: false }));
    expect(new Set(copied.slices.map((s) => s.buffer)).size).toBe(copied.slices.length);
    expect(lent.data.equals(copied.data)).toBe(true);
  });

  it('lets the event loop run while inflating a highly compressed stream', async () => {
    // 64 MiB of zeros deflate to about 64 KiB: one input chunk is tens of milliseconds of work in one piece
    // without the yields.
    const gz = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    let turns = 0;
    const timer = setInterval(() => turns++, 1);
    let total = 0;
    try {
      for await (const slice of gunzipChunks(chunked(gz, gz.length), {
        sliceBytes: 256 * 1024,
        lend: true,
      })) {
        total += slice.length;
      }
    } finally {
      clearInterval(timer);
    }
    expect(total).toBe(64 * 1024 * 1024);
    expect(turns).toBeGreaterThan(0);
  });
});

describe("decompressor('gzip')", () => {
  it('turns zlib errors into ERR_ARTIFACT_DECOMPRESSION naming the member', async () => {
    const gz = gzipSync(randomBytes(1000));
    const err = await collect(
      decompressor('gzip')(chunked(gz.subarray(0, 500), 100), 'data/0000.tar.gz'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect(err).toMatchObject({ code: 'ERR_ARTIFACT_DECOMPRESSION', member: 'data/0000.tar.gz' });
  });
});
