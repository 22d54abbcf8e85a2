/**
 * Where payload file content sits in the byte stream of a Mender artifact, found while the bytes
 * go by: the artifact is a tar whose `data/NNNN.tar` members are tars of the payload files, so in
 * an uncompressed payload every file's content is one contiguous range of the artifact. The
 * download uses these ranges to let an installer's own copy of a file (the inactive slot) serve
 * as the staged copy of those bytes. This is bookkeeping, not verification (core's reader checks
 * everything); headers are parsed by core's `parseTarHeader`. On anything it does not follow (a PAX
 * or GNU long-name entry, a header core refuses, a compressed payload), it stops reporting ranges
 * and the bytes are staged as before.
 * @internal
 */

import { isZeroTarBlock, parseTarHeader, type TarEntry } from '@otakit/core';

const BLOCK = 512;

/** The content of one payload file: artifact bytes `[start, start + size)`. @internal */
export interface ContentSpan {
  payloadIndex: number;
  name: string;
  /** Artifact offset of the file's first byte. */
  start: number;
  size: number;
}

/** A piece of a fed chunk: payload content of `span`, or other artifact bytes. @internal */
export interface LayoutSegment {
  /** Offset in the chunk. */
  from: number;
  to: number;
  span?: ContentSpan | undefined;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/** One tar level: alternates between collecting a header block and skipping/entering entry bodies. */
interface TarLevel {
  /** Bytes of this tar consumed so far. */
  pos: number;
  /** Where the current entry's body ends (its padding included); the next header starts there. */
  bodyEnd: number;
  header: Uint8Array;
  headerFill: number;
}

const newLevel = (): TarLevel => ({ pos: 0, bodyEnd: 0, header: new Uint8Array(BLOCK), headerFill: 0 });

/**
 * Follows the outer tar and, inside each uncompressed `data/NNNN.tar`, the inner tar, reporting
 * for every fed chunk which of its bytes are payload file content.
 * @internal
 */
export class ArtifactLayout {
  #offset = 0;
  #lost = false;
  readonly #outer = newLevel();
  /** The inner tar being followed, with the payload index and where its outer member ends. */
  #inner: { level: TarLevel; index: number; end: number } | undefined;
  /** Every payload file found so far (an empty one too), in artifact order. */
  readonly spans: ContentSpan[] = [];
  /** The payload file whose content is being passed. */
  #file: { span: ContentSpan; end: number } | undefined;

  /** Artifact bytes fed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Whether the layout stopped being followed (everything after is reported as plain bytes). */
  get lost(): boolean {
    return this.#lost;
  }

  /** Splits the next chunk of the artifact into content and non-content segments. */
  feed(chunk: Uint8Array): LayoutSegment[] {
    const out: LayoutSegment[] = [];
    const push = (from: number, to: number, span?: ContentSpan) => {
      if (to <= from) return;
      const last = out.at(-1);
      if (last && last.span === span && last.to === from) last.to = to;
      else out.push({ from, to, ...(span ? { span } : {}) });
    };
    let i = 0;
    while (i < chunk.length) {
      if (this.#lost) {
        push(i, chunk.length);
        i = chunk.length;
        break;
      }
      const abs = this.#offset + i;
      if (this.#file) {
        const n = Math.min(chunk.length - i, this.#file.end - abs);
        push(i, i + n, this.#file.span);
        i += n;
        if (abs + n >= this.#file.end) this.#file = undefined;
        continue;
      }
      if (this.#inner && abs < this.#inner.end) {
        i += this.#step(this.#inner.level, chunk, i, this.#inner.end - abs, push, true);
        continue;
      }
      this.#inner = undefined;
      i += this.#step(this.#outer, chunk, i, chunk.length - i, push, false);
    }
    this.#offset += chunk.length;
    return out;
  }

  /** Advances one tar level by at most `max` bytes of `chunk` from `i`; returns the bytes used. */
  #step(
    level: TarLevel,
    chunk: Uint8Array,
    i: number,
    max: number,
    push: (from: number, to: number, span?: ContentSpan) => void,
    inner: boolean,
  ): number {
    const avail = Math.min(max, chunk.length - i);
    if (level.pos < level.bodyEnd) {
      // Skipping an entry body (or padding) this tracker does not descend into.
      const n = Math.min(avail, level.bodyEnd - level.pos);
      push(i, i + n);
      level.pos += n;
      return n;
    }
    const n = Math.min(avail, BLOCK - level.headerFill);
    level.header.set(chunk.subarray(i, i + n), level.headerFill);
    level.headerFill += n;
    level.pos += n;
    push(i, i + n);
    if (level.headerFill < BLOCK) return n;
    level.headerFill = 0;
    const h = level.header;
    if (isZeroTarBlock(h)) {
      // End of archive (two zero blocks) or padding: nothing more to follow at this level.
      level.bodyEnd = level.pos;
      if (!inner) this.#lost = true;
      return n;
    }
    let entry: TarEntry;
    try {
      entry = parseTarHeader(h, inner ? 'payload' : 'artifact');
    } catch {
      this.#lost = true;
      return n;
    }
    const { name, size, typeflag } = entry;
    if (typeflag !== '0' && typeflag !== '\0') {
      this.#lost = true;
      return n;
    }
    const bodyStart = this.#offset + i + n;
    level.bodyEnd = level.pos + padded(size);
    if (inner) {
      const span = { payloadIndex: this.#inner!.index, name, start: bodyStart, size };
      this.spans.push(span);
      if (size > 0) {
        this.#file = { span, end: bodyStart + size };
        // The content is passed by #file; this level skips only the padding after it.
        level.pos += size;
      }
      return n;
    }
    const m = /^data\/(\d{4})\.tar$/.exec(name);
    if (m) {
      this.#inner = { level: newLevel(), index: Number(m[1]), end: bodyStart + size };
      // The inner tar's bytes are walked by the inner level; the outer one skips only the padding.
      level.pos += size;
    }
    return n;
  }
}
