import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ArtifactError } from './errors.js';
import type { ArtifactHeader, ArtifactPayloadFile, ReadArtifactOptions } from './types.js';

/** The payload file being delivered and the digest it must have. @internal */
export interface PayloadTarget {
  payloadIndex: number;
  name: string;
  size: number;
  /** `data/NNNN/<name>`, for errors. */
  member: string;
  /** The SHA-256 the manifest lists. */
  sha256: string;
}

/** Hashes a payload file's content; returns the hex digest. @internal */
export async function hashPayload(body: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * Hands a payload file to the consumer as a Readable (with backpressure) while hashing it. The
 * stream ends only once the digest matched; on a mismatch, or any failure while reading, it is
 * destroyed with the error, the consumer is let finish, and the error is thrown. `lent`: the
 * chunks are views into buffers the source reuses, so each is copied before the consumer gets it.
 * @internal
 */
export async function streamPayloadToConsumer(
  body: AsyncIterable<Uint8Array>,
  target: PayloadTarget,
  consumer: NonNullable<ReadArtifactOptions['onPayloadFile']>,
  header: ArtifactHeader,
  signal: AbortSignal | undefined,
  lent = false,
): Promise<string> {
  const hash = createHash('sha256');
  let wantMore = true;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const stream = new Readable({
    highWaterMark: 256 * 1024,
    read() {
      wantMore = true;
      poke();
    },
  });
  stream.on('close', poke);
  signal?.addEventListener('abort', poke);
  let consumerFailed = false;
  let consumerError: unknown;
  const file: ArtifactPayloadFile = {
    payloadIndex: target.payloadIndex,
    name: target.name,
    size: target.size,
    stream,
    sha256: target.sha256,
  };
  const settled = Promise.resolve()
    .then(() => consumer(file, header))
    .then(
      () => {
        // A consumer that never touched its stream: drain it so reading can go on.
        if (stream.readableFlowing === null && !stream.destroyed) stream.resume();
      },
      (err: unknown) => {
        consumerFailed = true;
        consumerError = err;
      },
    )
    .finally(poke);
  const fail = (err: unknown) => {
    if (!stream.destroyed) {
      if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
      stream.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  };
  try {
    for await (const chunk of body) {
      hash.update(chunk);
      if (consumerFailed) throw consumerError;
      if (stream.destroyed) continue;
      wantMore = false;
      if (!stream.push(lent ? Buffer.from(chunk) : chunk)) {
        while (!wantMore && !stream.destroyed && !consumerFailed && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
        signal?.throwIfAborted();
        if (consumerFailed) throw consumerError;
      }
    }
    const digest = hash.digest('hex');
    if (digest !== target.sha256) {
      const err = new ArtifactError(
        'ERR_ARTIFACT_CHECKSUM_MISMATCH',
        `sha256 ${digest} does not match the manifest (${target.sha256})`,
        { member: target.member },
      );
      throw err;
    }
    if (!stream.destroyed) stream.push(null);
    await settled;
    if (consumerFailed) throw consumerError;
    return digest;
  } catch (err) {
    fail(err);
    // The consumer sees the error on its stream; let it finish before the read rejects.
    await settled;
    throw err;
  } finally {
    signal?.removeEventListener('abort', poke);
  }
}
