import { describe, expect, it, vi } from 'vitest';

// node-liblzma is an optional dependency: simulate a device where its install was skipped.
vi.mock('node-liblzma/wasm', () => {
  throw new Error("Cannot find package 'node-liblzma'");
});

const { createCompressor } = await import('../../src/artifact/compress.js');
const { ArtifactWriteError } = await import('../../src/artifact/writer-errors.js');

describe('xz compression without the optional encoder', () => {
  it('refuses xz with a typed error that says what is missing', async () => {
    const err = await createCompressor('lzma').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactWriteError);
    expect((err as InstanceType<typeof ArtifactWriteError>).code).toBe('ERR_ARTIFACT_WRITE_OPTIONS');
    expect((err as Error).message).toMatch(/node-liblzma/);
  });

  it('still compresses with gzip and zstd', async () => {
    for (const id of ['gzip', 'zstd_better'] as const) {
      const c = await createCompressor(id);
      const out: Buffer[] = [];
      c.on('data', (b: Buffer) => out.push(b));
      const done = new Promise((resolve) => c.on('end', resolve));
      c.end(Buffer.alloc(1024, 7));
      await done;
      expect(Buffer.concat(out).length).toBeGreaterThan(0);
    }
  });
});
