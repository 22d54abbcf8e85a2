import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import type { PayloadPlacement, PlacementTarget } from '../installers/types.js';
import { ArtifactLayout, type ContentSpan } from './artifact-layout.js';
import {
  hasBytes,
  type PlacedSpan,
  readStagedPrefix,
  type StagingMeta,
  stagedLength,
} from './staged-prefix.js';

export type { PlacedSpan, StagingMeta } from './staged-prefix.js';

/** A payload file met in the stream, and what became of its bytes. */
interface SpanState {
  span: ContentSpan;
  decision: 'pending' | 'placed' | 'staged';
  target?: PlacementTarget | undefined;
  path?: string;
  position?: number;
  /** Bytes known durable at the target (for a span restored from the meta, before re-adoption). */
  durable: number;
  /** Offered to the installer: bytes already in place from the interrupted download. */
  inPlace: number;
}

/** Bytes held back until the installer says whether it keeps the payload file they belong to. */
interface PendingPiece {
  offset: number;
  data: Uint8Array;
  state: SpanState | undefined;
}

/** Undecided bytes held in memory at most; beyond, their file is staged. */
const MAX_PENDING = 8 << 20;

/**
 * The on-disk copy of an artifact being downloaded (`dataDir/download/`), so a download survives a
 * process restart or power cut: the staged prefix is replayed through the verifier (re-hashing it),
 * and the rest is fetched with `Range`.
 *
 * No byte is kept twice: a payload file whose installer writes it, in order, to one place (the
 * inactive slot) is not copied to the staging file. The installer adopts it through the
 * {@link PayloadPlacement} offered with the file, and its written prefix is the staged copy of
 * those bytes; a checkpoint fsyncs it (through the installer) before recording it. Everything else
 * (headers, compressed payloads, files of installers that keep no copy) goes to the staging file.
 * @internal
 */
export class DownloadStaging {
  readonly dir: string;
  readonly partPath: string;
  readonly metaPath: string;
  #fh: Awaited<ReturnType<typeof open>> | undefined;
  #meta: StagingMeta | undefined;
  /** Artifact bytes appended (or replayed) so far. */
  #written = 0;
  /** Whether the opened meta had payload bytes placed with installers (a resumed download). */
  #resuming = false;
  /** The last queued write: one write runs while the caller goes on with the next chunk. */
  #tail: Promise<void> = Promise.resolve();
  #layout = new ArtifactLayout();
  #spans: SpanState[] = [];
  #pending: PendingPiece[] = [];
  #pendingBytes = 0;
  /** Whether the staging file got bytes since the last fsync. */
  #dirty = false;
  /** Checkpoints run one after the other. */
  #checkpointing: Promise<void> = Promise.resolve();
  /** The checkpoint started by {@link checkpointBehind}. */
  #behind: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;

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
    let placed = (meta?.placed ?? []).filter((p) => meta && p.start < meta.committedBytes);
    if (meta) {
      // A target that lost bytes it had made durable (changed behind the agent's back) ends the
      // usable prefix where its file starts: everything from there is fetched again.
      for (const [i, p] of placed.entries()) {
        const durable = Math.min(p.size, meta.committedBytes - p.start);
        if (!(await hasBytes(p.path, p.position + durable))) {
          meta.committedBytes = p.start;
          placed = placed.slice(0, i);
          break;
        }
      }
    }
    const staged = meta ? stagedLength(meta.committedBytes, placed) : 0;
    if (!meta || meta.key !== key || staged > size) {
      meta = { key, committedBytes: 0 };
      await rm(this.partPath, { force: true });
      await writeJsonFileAtomic(this.metaPath, meta);
    } else {
      meta.placed = placed;
      if (size > staged) await truncate(this.partPath, staged);
    }
    this.#meta = meta;
    this.#written = 0;
    this.#resuming = (meta.placed?.length ?? 0) > 0;
    this.#layout = new ArtifactLayout();
    this.#spans = [];
    this.#fh = await open(this.partPath, 'a');
    return { ...meta };
  }

  /**
   * Streams the committed prefix (to replay it through the verifier): the staging file's bytes
   * and, for placed payload files, the bytes already at their installer's target.
   */
  async *replay(): AsyncGenerator<Buffer> {
    for await (const buf of readStagedPrefix(this.#meta, this.partPath)) {
      this.#track(buf, true);
      yield buf;
    }
  }

  /** Records the size and validator of the artifact. */
  async describe(totalBytes: number | undefined, validator: string | undefined): Promise<void> {
    if (!this.#meta) throw new Error('staging not open');
    this.#meta.totalBytes = totalBytes;
    this.#meta.validator = validator;
    await writeJsonFileAtomic(this.metaPath, this.#meta);
  }

  /**
   * Appends the next artifact bytes (not yet durable: see {@link checkpoint}). Payload content whose
   * installer keeps it is not written; while the installer has not said, it is held in memory. The
   * write overlaps with the caller's next step: this resolves once the *previous* write is done.
   */
  async append(chunk: Uint8Array): Promise<void> {
    if (!this.#fh) throw new Error('staging not open');
    const previous = this.#tail;
    this.#track(chunk, false);
    await previous;
  }

  /**
   * The placement offered to the installer of a payload file (see {@link PayloadPlacement}), or
   * undefined when its bytes are not followed (a compressed payload, an unknown layout).
   */
  placement(payloadIndex: number, name: string): PayloadPlacement | undefined {
    const state = this.#spans.find(
      (s) => s.span.payloadIndex === payloadIndex && s.span.name === name && s.decision !== 'staged',
    );
    if (!state || (state.decision === 'placed' && state.target)) return undefined;
    let answered = false;
    return {
      resuming: this.#resuming,
      adopt: (target) => {
        if (answered) throw new Error('placement already answered');
        answered = true;
        if (state.decision === 'staged') return 0;
        const same = state.path === target.path && state.position === target.position;
        state.inPlace = same ? state.inPlace : 0;
        state.durable = same ? state.durable : 0;
        state.decision = 'placed';
        state.target = target;
        state.path = target.path;
        state.position = target.position;
        this.#flushPending();
        return state.inPlace;
      },
      decline: () => {
        if (answered) return;
        answered = true;
        if (state.decision === 'pending') {
          state.decision = 'staged';
          this.#flushPending();
        }
      },
    };
  }

  /** Number of artifact bytes appended so far (durable or not). */
  get writtenBytes(): number {
    return this.#written;
  }

  /**
   * Makes every appended byte durable (the staging file's, and through their installers the
   * placed files') and records the durable prefix of the artifact as committed.
   */
  checkpoint(): Promise<void> {
    const run = this.#checkpointing.then(() => {
      // A failed checkpoint (one that ran behind) fails every later one: nothing is recorded past it.
      if (this.#failure) throw this.#failure.error;
      return this.#checkpoint();
    });
    this.#checkpointing = run.catch((error: unknown) => {
      this.#failure ??= { error };
    });
    return run;
  }

  /**
   * Starts a {@link checkpoint} that runs while the caller goes on (fsyncs overlap the download);
   * resolves once the *previous* one is done, so at most one runs behind. Its error, if any, is
   * thrown by the next checkpoint or by {@link close}.
   */
  checkpointBehind(): Promise<void> {
    const previous = this.#behind;
    this.#behind = this.checkpoint();
    this.#behind.catch(() => {});
    return previous;
  }

  async #checkpoint(): Promise<void> {
    const meta = this.#meta;
    if (!this.#fh || !meta) return;
    await this.#tail;
    let frontier = this.#pending[0]?.offset ?? this.#written;
    const placed: PlacedSpan[] = [];
    for (const s of this.#spans) {
      if (s.decision !== 'placed' || s.span.start >= frontier) continue;
      if (s.durable < s.span.size) {
        if (s.target) s.durable = Math.max(s.durable, Math.min(await s.target.sync(), s.span.size));
        if (s.durable < s.span.size) frontier = Math.min(frontier, s.span.start + s.durable);
      }
      placed.push({ ...s.span, path: s.path!, position: s.position! });
    }
    if (this.#dirty) {
      this.#dirty = false;
      await this.#fh.sync();
    }
    const keep = placed.filter((p) => p.start < frontier);
    if (meta.committedBytes === frontier && (meta.placed?.length ?? 0) === keep.length) return;
    meta.committedBytes = frontier;
    meta.placed = keep;
    await writeJsonFileAtomic(this.metaPath, meta);
  }

  /** Closes the file (after a checkpoint). */
  async close(): Promise<void> {
    try {
      this.#decideAll();
      await this.checkpoint();
    } finally {
      await this.#fh?.close();
      this.#fh = undefined;
    }
  }

  /** Deletes the staged bytes and meta. */
  async remove(): Promise<void> {
    await this.#checkpointing;
    await this.#tail.catch(() => {});
    await this.#fh?.close().catch(() => {});
    this.#fh = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Follows the layout over the next bytes; stages, holds back or drops (placed) each piece. */
  #track(chunk: Uint8Array, replayed: boolean): void {
    const offset = this.#written;
    const before = this.#layout.spans.length;
    const segments = this.#layout.feed(chunk);
    for (const span of this.#layout.spans.slice(before)) this.#spans.push(this.#stateFor(span));
    this.#written += chunk.byteLength;
    if (replayed) return;
    for (const seg of segments) {
      const state = seg.span ? this.#spans.find((s) => s.span === seg.span) : undefined;
      const data = chunk.subarray(seg.from, seg.to);
      if (this.#pending.length > 0 || state?.decision === 'pending') {
        this.#pending.push({ offset: offset + seg.from, data, state });
        this.#pendingBytes += data.byteLength;
      } else if (state?.decision !== 'placed') {
        this.#stage(data);
      }
    }
    if (this.#pendingBytes > MAX_PENDING) this.#decideAll();
  }

  /** A span's state: restored from the meta when it was placed before the restart. */
  #stateFor(span: ContentSpan): SpanState {
    const p = this.#meta?.placed?.find(
      (x) => x.payloadIndex === span.payloadIndex && x.name === span.name && x.start === span.start,
    );
    if (!p) {
      // A file that began before the committed point without being placed was staged.
      const staged = span.start < (this.#meta?.committedBytes ?? 0);
      return { span, decision: staged ? 'staged' : 'pending', durable: 0, inPlace: 0 };
    }
    const durable = Math.max(0, Math.min(span.size, (this.#meta?.committedBytes ?? 0) - span.start));
    return { span, decision: 'placed', path: p.path, position: p.position, durable, inPlace: durable };
  }

  /** Stages every held-back piece whose file is still undecided (no answer came in time). */
  #decideAll(): void {
    for (const s of this.#spans) if (s.decision === 'pending') s.decision = 'staged';
    this.#flushPending();
  }

  /** Writes (or drops, when placed) held-back pieces up to the first still undecided one. */
  #flushPending(): void {
    while (this.#pending.length > 0) {
      const piece = this.#pending[0]!;
      if (piece.state?.decision === 'pending') return;
      this.#pending.shift();
      this.#pendingBytes -= piece.data.byteLength;
      if (piece.state?.decision !== 'placed') this.#stage(piece.data);
    }
  }

  #stage(data: Uint8Array): void {
    const fh = this.#fh;
    if (!fh || data.byteLength === 0) return;
    this.#dirty = true;
    this.#tail = this.#tail.then(async () => {
      await fh.write(data);
    });
    this.#tail.catch(() => {});
  }
}
