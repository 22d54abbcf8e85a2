/**
 * The file source (1 MiB reads one ahead into three reused buffers) and the reader's lending
 * contract: whatever is kept or handed to a consumer is copied, whatever the chunk size, so every
 * vector reads the same through it, and a consumer that holds every chunk gets the payload intact.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import {
  expectedOutcome,
  loadVectorManifest,
  outcomeOfValidation,
  readVectorKey,
  vectorPath,
} from '@otakit/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileChunks } from '../../src/artifact/file-source.js';
import { runReader } from '../../src/artifact/reader.js';
import { validateArtifact, verifyArtifactFile } from '../../src/artifact/validate.js';
import { writeArtifact } from '../../src/artifact/writer.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-file-source-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('readFileChunks', () => {
  it('yields the bytes of the file in chunks no larger than asked', async () => {
    const bytes = randomBytes(10_000);
    const path = join(work, 'bytes.bin');
    await writeFile(path, bytes);
    const copies: Buffer[] = [];
    for await (const chunk of readFileChunks(path, undefined, 999)) {
      expect(chunk.length).toBeLessThanOrEqual(999);
      copies.push(Buffer.from(chunk));
    }
    expect(Buffer.concat(copies).equals(bytes)).toBe(true);
  });

  it('keeps a chunk intact until the next one is asked for, then reads ahead into its buffer', async () => {
    const path = join(work, 'ring.bin');
    await writeFile(path, Buffer.concat([0, 1, 2, 3, 4].map((v) => Buffer.alloc(100, v))));
    const chunks: Uint8Array[] = [];
    const seen: number[][] = [];
    for await (const chunk of readFileChunks(path, undefined, 100)) {
      // The chunk handed out is whole while it is in use.
      expect(chunk.every((b) => b === chunk[0])).toBe(true);
      chunks.push(chunk);
      seen.push(chunks.map((c) => c[0]!));
    }
    // Two buffers: when chunk 1 is handed out, chunk 0's buffer is being refilled with chunk 2
    // (read ahead), so a consumer must be done with a chunk when it asks for the next.
    expect(seen.map((s) => s.at(-1))).toEqual([0, 1, 2, 3, 4]);
    expect(seen.at(-1)).toEqual([4, 3, 4, 3, 4]);
    expect(chunks[0]!.buffer).toBe(chunks[2]!.buffer);
    expect(chunks[1]!.buffer).toBe(chunks[3]!.buffer);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const path = join(work, 'bytes.bin');
    const gen = readFileChunks(path, AbortSignal.abort(new Error('stop')));
    await expect(gen.next()).rejects.toThrow('stop');
  });
});

describe('reading through lent chunks', () => {
  const vectors = loadVectorManifest();

  it.each(vectors.map((v) => [v.file, v] as const))(
    '%s gives the expected outcomes through 997-byte reused buffers',
    async (_file, vector) => {
      const keys = Object.keys(vector.expected.verify_with);
      const validation = await validateArtifact(readFileChunks(vectorPath(vector.file), undefined, 997), {
        keys: keys.map(readVectorKey),
      });
      expect(outcomeOfValidation(validation, keys)).toEqual(expectedOutcome(vector));
    },
  );

  it.each(['none', 'gzip', 'zstd'] as const)(
    'a consumer that holds every chunk of a %s payload gets it intact',
    async (compression) => {
      const payload = Buffer.concat([randomBytes(150_000), Buffer.alloc(100_000, 'payload ')]);
      const file = join(work, `held-${compression}.mender`);
      await writeArtifact(
        {
          type: 'module-image',
          moduleType: 'held',
          artifactName: 'held',
          deviceTypes: ['d'],
          compression,
          files: [{ name: 'p.bin', content: payload }],
        },
        file,
      );
      const held: Uint8Array[] = [];
      const info = await runReader(
        readFileChunks(file, undefined, 4096),
        {
          onPayloadFile: async (f) => {
            for await (const chunk of f.stream) {
              held.push(chunk as Uint8Array);
              await tick();
            }
          },
        },
        undefined,
        true,
      );
      expect(info.files).toHaveLength(1);
      expect(Buffer.concat(held).equals(payload)).toBe(true);
    },
  );

  it('verifyArtifactFile verifies a signed vector with its key', async () => {
    const info = await verifyArtifactFile(vectorPath('module-small-ecdsa256.mender'), {
      trustedKeys: [readVectorKey('../keys/ecdsa-p256.pub')],
    });
    expect(info.signatureVerified).toBe(true);
  });
});
