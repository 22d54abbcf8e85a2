import type { Readable } from 'node:stream';
import type { InstallContext, Installer, PayloadFile, PayloadPlacement } from '../installers/types.js';

/** A payload file as the artifact reader hands it over. */
export interface ReaderPayloadFile {
  payloadIndex: number;
  name: string;
  size: number;
  stream: Readable;
  placement?: PayloadPlacement | undefined;
  /** The digest the stream's bytes are verified against (see {@link PayloadFile.sha256}). */
  sha256?: string | undefined;
}

interface Session {
  index: number;
  queue: FileQueue;
  done: Promise<void>;
  failed: { error: unknown } | undefined;
}

/** An async iterable of payload files fed one at a time; `push` resolves once the file is consumed. */
class FileQueue implements AsyncIterable<PayloadFile> {
  #waiting: ((r: IteratorResult<PayloadFile>) => void) | undefined;
  #pending: PayloadFile[] = [];
  #ended = false;

  push(file: PayloadFile): void {
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w({ value: file, done: false });
    } else this.#pending.push(file);
  }

  end(): void {
    this.#ended = true;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<PayloadFile> {
    return {
      next: () => {
        const file = this.#pending.shift();
        if (file) return Promise.resolve({ value: file, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
    };
  }
}

function finished(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      stream.off('end', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
  });
}

/**
 * Bridges the artifact reader's per-file callback to the installers' per-payload `download(ctx,
 * files)`: one `download` call per payload, fed the payload's files in order, each `onFile`
 * resolving once the installer has consumed the file (so the reader's hashing keeps pace).
 * @internal
 */
export class PayloadBridge {
  readonly #sessions = new Map<number, Session>();
  #current: Session | undefined;
  readonly #resolve: (index: number) => { installer: Installer; ctx: InstallContext };

  constructor(resolve: (index: number) => { installer: Installer; ctx: InstallContext }) {
    this.#resolve = resolve;
  }

  /** Feeds one file; rejects when the installer failed. */
  async onFile(file: ReaderPayloadFile): Promise<void> {
    if (this.#current && this.#current.index !== file.payloadIndex) await this.#close(this.#current);
    let s = this.#sessions.get(file.payloadIndex);
    if (!s) {
      s = this.#start(file.payloadIndex);
      this.#current = s;
    }
    if (s.failed) {
      file.stream.destroy();
      throw s.failed.error;
    }
    const session = s;
    session.queue.push({
      name: file.name,
      size: file.size,
      stream: file.stream,
      ...(file.placement ? { placement: file.placement } : {}),
      ...(file.sha256 ? { sha256: file.sha256 } : {}),
    });
    const consumed = finished(file.stream);
    await Promise.race([consumed, session.done.catch(() => {})]);
    if (session.failed) {
      file.stream.destroy();
      throw session.failed.error;
    }
    if (!file.stream.readableEnded && !file.stream.destroyed) {
      // The installer returned without reading the file: drain it so hashing completes.
      file.stream.resume();
      await consumed;
    }
  }

  /** Ends every payload: payloads that had no file still get their `download` call. */
  async finish(payloadTypes: string[]): Promise<void> {
    if (this.#current) await this.#close(this.#current);
    for (let i = 0; i < payloadTypes.length; i++) {
      if (payloadTypes[i] && !this.#sessions.has(i)) await this.#close(this.#start(i));
    }
  }

  /** Stops every running download (after a reader error). */
  async abort(): Promise<void> {
    for (const s of this.#sessions.values()) s.queue.end();
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.done));
  }

  #start(index: number): Session {
    const { installer, ctx } = this.#resolve(index);
    const queue = new FileQueue();
    const session: Session = { index, queue, done: Promise.resolve(), failed: undefined };
    session.done = Promise.resolve()
      .then(() => installer.download(ctx, queue))
      .catch((error: unknown) => {
        session.failed = { error };
        throw error;
      });
    session.done.catch(() => {});
    this.#sessions.set(index, session);
    return session;
  }

  async #close(s: Session): Promise<void> {
    s.queue.end();
    await s.done;
    if (this.#current === s) this.#current = undefined;
  }
}
