/** Progress bars on stderr, only on a terminal. */
import { SingleBar } from 'cli-progress';

/** A progress bar on stderr, only when stderr is a terminal; otherwise every call is a no-op. */
export interface Progress {
  start(total: number, value?: number): void;
  update(value: number, total?: number): void;
  stop(): void;
}

/** Makes a {@link Progress} (cli-progress) when stderr is a TTY. */
export function progressBar(format: string): Progress {
  if (!process.stderr.isTTY) return { start() {}, update() {}, stop() {} };
  const bar = new SingleBar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: false });
  let started = false;
  return {
    start(total, value = 0) {
      bar.start(total, value);
      started = true;
    },
    update(value, total) {
      if (!started) return;
      if (total !== undefined) bar.setTotal(total);
      bar.update(value);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
