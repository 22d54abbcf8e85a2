import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Where an artifact is written: a file path or a writable stream (ended when done). */
export type ArtifactOutput = Writable | string;

/**
 * Streams `source` into `output` with backpressure. A file path is created (or truncated) and
 * removed again when writing fails. Resolves with the number of bytes written.
 */
export async function writeOutput(
  source: AsyncIterable<Buffer>,
  output: ArtifactOutput,
  signal?: AbortSignal,
): Promise<number> {
  let bytes = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      bytes += chunk.length;
      yield chunk;
    }
  }
  const readable = Readable.from(counted(), { objectMode: false });
  if (typeof output === 'string') {
    try {
      await pipeline(readable, createWriteStream(output), signal ? { signal } : {});
    } catch (err) {
      await rm(output, { force: true });
      throw err;
    }
  } else {
    await pipeline(readable, output, signal ? { signal } : {});
  }
  return bytes;
}
