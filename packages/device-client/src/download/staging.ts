import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';

/** What is known of a partly downloaded artifact, kept beside the staged bytes. */
export interface StagingMeta {
  /** Which update the bytes belong to. */
  key: string;
  /** Bytes of the staged file known to be on disk (fsynced before this was written). */
  committedBytes: number;
  /** Full size of the artifact, when the server said. */
  totalBytes?: number | undefined;
  /** `ETag` (strong) or `Last-Modified` of the first response, sent as `If-Range`. */
  validator?: string | undefined;
}

/**
 * The on-disk copy of an artifact being downloaded (`dataDir/download/`), so a download survives a
 * process restart or power cut: the staged prefix is replayed through the verifier (re-hashing it),
 * and the rest is fetched with `Range`.
 * @internal
 */
export class DownloadStaging {
  readonly dir: string;
  readonly partPath: string;
  readonly metaPath: string;
  #fh: Awaited<ReturnType<typeof open>> | undefined;
  #meta: StagingMeta | undefined;
  #written = 0;
  /** The last queued write: one write runs while the caller goes on with the next chunk. */
  #tail: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
    this.partPath = join(dir, 'artifact.part');
    this.metaPath = join(dir, 'artifact.json');
  }

  /**
   * Opens the staging area for `key`. Bytes staged for another key are dropped; bytes beyond the
   * last checkpoint are cut off (they may not have reached the disk). Returns the usable meta.
   */
  async open(key: string): Promise<StagingMeta> {
    await mkdir(this.dir, { recursive: true });
    let meta: StagingMeta | undefined;
    try {
      meta = await readJsonFile<StagingMeta>(this.metaPath);
    } catch {
      meta = undefined;
    }
    let size = 0;
    try {
      size = (await stat(this.partPath)).size;
    } catch {
      size = 0;
    }
    if (!meta || meta.key !== key || meta.committedBytes > size) {
      meta = { key, committedBytes: 0 };
      await rm(this.partPath, { force: true });
      await writeJsonFileAtomic(this.metaPath, meta);
    } else if (size > meta.committedBytes) {
      await truncate(this.partPath, meta.committedBytes);
    }
    this.#meta = meta;
    this.#written = meta.committedBytes;
    this.#fh = await open(this.partPath, 'a');
    return { ...meta };
  }

  /** Streams the committed prefix (to replay it through the verifier). */
  replay(): AsyncIterable<Buffer> {
    const end = this.#meta?.committedBytes ?? 0;
    if (end === 0) return (async function* () {})();
    return createReadStream(this.partPath, { start: 0, end: end - 1, highWaterMark: 1 << 20 });
  }

  /** Records the size and validator of the artifact. */
  async describe(totalBytes: number | undefined, validator: string | undefined): Promise<void> {
    if (!this.#meta) throw new Error('staging not open');
    this.#meta.totalBytes = totalBytes;
    this.#meta.validator = validator;
    await writeJsonFileAtomic(this.metaPath, this.#meta);
  }

  /**
   * Appends bytes (not yet durable: see {@link checkpoint}). The write overlaps with the caller's
   * next step: this resolves once the *previous* write is done, so at most one chunk is in flight.
   */
  async append(chunk: Uint8Array): Promise<void> {
    const fh = this.#fh;
    if (!fh) throw new Error('staging not open');
    const previous = this.#tail;
    this.#tail = previous.then(async () => {
      await fh.write(chunk);
    });
    this.#tail.catch(() => {});
    this.#written += chunk.byteLength;
    await previous;
  }

  /** Number of bytes appended so far (durable or not). */
  get writtenBytes(): number {
    return this.#written;
  }

  /** Makes every appended byte durable and records it as committed. */
  async checkpoint(): Promise<void> {
    if (!this.#fh || !this.#meta) return;
    await this.#tail;
    if (this.#meta.committedBytes === this.#written) return;
    await this.#fh.sync();
    this.#meta.committedBytes = this.#written;
    await writeJsonFileAtomic(this.metaPath, this.#meta);
  }

  /** Closes the file (after a checkpoint). */
  async close(): Promise<void> {
    try {
      await this.checkpoint();
    } finally {
      await this.#fh?.close();
      this.#fh = undefined;
    }
  }

  /** Deletes the staged bytes and meta. */
  async remove(): Promise<void> {
    await this.#tail.catch(() => {});
    await this.#fh?.close().catch(() => {});
    this.#fh = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }
}
