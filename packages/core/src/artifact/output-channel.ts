/**
 * The reading end of a decoder program's output (see `decoder-process.ts`): read with `onread`
 * into one reused buffer, paused until each chunk is consumed.
 *
 * @module
 */

import type { Socket } from 'node:net';

/**
 * The reading end of the program's output: a connected Unix socket read into one reused buffer.
 * Each chunk handed out is a view into that buffer, valid until the next one is asked for.
 * @internal
 */
export class OutputChannel {
  private ready: Uint8Array | undefined;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', (err) => {
      this.failure ??= err;
      this.finish();
    });
  }

  /** The `onread` callback: keeps the chunk and pauses the socket until it is consumed. */
  deliver(n: number, buffer: Buffer): boolean {
    this.ready = buffer.subarray(0, n);
    this.poke();
    return false;
  }

  private finish(): void {
    this.ended = true;
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next chunk (lent), or `undefined` at the end of the output. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const chunk = this.ready;
      if (chunk !== undefined) {
        this.ready = undefined;
        return chunk;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.socket.resume();
      });
    }
  }
}
