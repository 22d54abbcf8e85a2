/**
 * The hold of download-only updates and paused pause points: the machine waits on it, the owner's
 * `proceed()` releases the updates in progress and wakes every waiter at once.
 * @internal
 */
export class ProceedGate {
  readonly #released = new Set<string>();
  readonly #inProgress = new Set<string>();
  #waiters: { promise: Promise<void>; resolve: () => void } | undefined;

  /** Marks an update as running (so `proceed()` releases it). */
  begin(updateId: string): void {
    this.#inProgress.add(updateId);
  }

  /** Marks an update as no longer running. */
  end(updateId: string): void {
    this.#inProgress.delete(updateId);
  }

  /** Whether `proceed()` was called while this update was running. */
  isReleased(updateId: string): boolean {
    return this.#released.has(updateId);
  }

  /** Resolves at the next `proceed()`. */
  wait(): Promise<void> {
    if (!this.#waiters) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#waiters = { promise, resolve };
    }
    return this.#waiters.promise;
  }

  /** Releases the running updates and wakes every waiter. */
  proceed(): void {
    for (const id of this.#inProgress) this.#released.add(id);
    const waiters = this.#waiters;
    this.#waiters = undefined;
    waiters?.resolve();
  }
}
