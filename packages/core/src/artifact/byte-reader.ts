import { ArtifactError } from './errors.js';
import type { FileAccess } from './file-source.js';

/**
 * Skips at least this long over a file source are made without reading (see
 * {@link ByteReader.skip}); shorter ones read through the chunk already read ahead.
 */
const SKIP_WITHOUT_READING_BYTES = 1024 * 1024;

/**
 * Pull-based reader over an async sequence of byte chunks: exact reads, bounded streaming of `n`
 * bytes, skipping. Never reads ahead more than the chunk it holds, and never seeks.
 * @internal
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private ended = false;
  /** Bytes handed out so far. */
  position = 0;

  /**
   * @param file the file `source` reads (from its first byte), when it is one: long skips then
   * move past bytes without reading them
   */
  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly signal?: AbortSignal,
    private readonly file?: FileAccess,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Makes sure the held chunk is non-empty; false at the end of the input. */
  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.ended) return false;
      this.signal?.throwIfAborted();
      const next = this.signal
        ? await untilAborted(this.iterator.next(), this.signal)
        : await this.iterator.next();
      this.signal?.throwIfAborted();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const value: unknown = next.value;
      if (typeof value === 'string') this.chunk = Buffer.from(value);
      else if (value instanceof Uint8Array) this.chunk = value;
      else throw new TypeError('an artifact source must yield Uint8Array chunks');
    }
    return true;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Reads exactly `n` bytes; throws a truncation error naming `member` when the input ends first. */
  async readExact(n: number, member: string): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0);
    if (!(await this.fill())) throw truncated(member);
    if (this.chunk.length >= n) {
      const out = this.chunk.subarray(0, n);
      this.chunk = this.chunk.subarray(n);
      this.position += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      if (!(await this.fill())) throw truncated(member);
      const take = Math.min(n - filled, this.chunk.length);
      out.set(this.chunk.subarray(0, take), filled);
      this.chunk = this.chunk.subarray(take);
      filled += take;
      this.position += take;
    }
    return out;
  }

  /** Reads up to `max` bytes that are available (at least one); `undefined` at the end. */
  async readSome(max: number): Promise<Uint8Array | undefined> {
    if (!(await this.fill())) return undefined;
    const take = Math.min(max, this.chunk.length);
    const out = this.chunk.subarray(0, take);
    this.chunk = this.chunk.subarray(take);
    this.position += take;
    return out;
  }

  /**
   * Discards exactly `n` bytes. Over a file, what goes beyond the chunk held is skipped without
   * reading when it is long (unless the file ends first: then it is read up to the end, and the
   * truncation error is thrown as for any source).
   */
  async skip(n: number, member: string): Promise<void> {
    let left = n;
    if (this.file && left - this.chunk.length >= SKIP_WITHOUT_READING_BYTES) {
      const held = this.chunk.length;
      if (this.file.skip(left - held)) {
        this.chunk = new Uint8Array(0);
        this.position += left;
        return;
      }
    }
    while (left > 0) {
      const got = await this.readSome(left);
      if (got === undefined) throw truncated(member);
      left -= got.length;
    }
  }

  /** Discards everything that is left. */
  async drain(): Promise<void> {
    while ((await this.readSome(Number.MAX_SAFE_INTEGER)) !== undefined) {
      // discard
    }
  }

  /** Discards what is left, at most `max` bytes; false (having read `max + 1`) when more is left. */
  async drainAtMost(max: number): Promise<boolean> {
    let left = max;
    for (;;) {
      const got = await this.readSome(left + 1);
      if (got === undefined) return true;
      left -= got.length;
      if (left < 0) return false;
    }
  }

  /** Stops reading: releases the underlying source. */
  async close(): Promise<void> {
    this.ended = true;
    this.chunk = new Uint8Array(0);
    // Not awaited: a source stuck in a pending read (e.g. after an abort) must not block the caller.
    try {
      this.iterator.return?.()?.catch(() => undefined);
    } catch {
      // the source is being abandoned; its errors no longer matter
    }
  }
}

/** A truncation error about `member`. @internal */
export function truncated(member: string): ArtifactError {
  return new ArtifactError('ERR_ARTIFACT_TRUNCATED', 'unexpected end of input', { member });
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
