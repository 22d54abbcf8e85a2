import { join } from 'node:path';
import { assertSafeFileName, throwIfAborted } from '../durable-fs.js';
import { InstallerError, InstallerErrorCodes } from '../errors.js';
import { guardStream } from '../payload-files.js';
import type { InstallContext, PayloadFile } from '../types.js';
import { mkfifo, openFifoWriter, writeAndClose } from './fifo.js';

/**
 * Streams the payload files while the module runs Download. Resolves true when the module read
 * `stream-next` (streaming mode), false when it exited without opening it (file-tree mode).
 * @internal
 */
export async function feedStreams(
  ctx: InstallContext,
  tree: string,
  iterator: AsyncIterator<PayloadFile>,
  withSizes: boolean,
  exited: () => boolean,
): Promise<boolean> {
  const streamNext = join(tree, 'stream-next');
  let first = true;
  for (;;) {
    const opened = await openFifoWriter(streamNext, exited);
    if (opened === undefined) {
      if (first) return false;
      throw new InstallerError(
        InstallerErrorCodes.MODULE_FAILED,
        `${ctx.payloadType}: the module stopped reading stream-next before the last payload file`,
      );
    }
    first = false;
    let next: IteratorResult<PayloadFile>;
    try {
      throwIfAborted(ctx.signal);
      next = await iterator.next();
    } catch (err) {
      opened.destroy();
      throw err;
    }
    if (next.done) {
      // The end: stream-next opens and closes without a line (an empty read), as Mender does it.
      await writeAndClose(opened, '');
      return true;
    }
    const file = next.value;
    guardStream(file.stream);
    try {
      assertSafeFileName(file.name);
    } catch (err) {
      opened.destroy();
      file.stream.destroy();
      throw err;
    }
    const rel = `streams/${file.name}`;
    await mkfifo(join(tree, rel));
    await writeAndClose(opened, withSizes ? `${rel} ${file.size}\n` : `${rel}\n`);
    const fifo = await openFifoWriter(join(tree, rel), exited);
    if (fifo === undefined) {
      file.stream.destroy();
      throw new InstallerError(
        InstallerErrorCodes.MODULE_FAILED,
        `${ctx.payloadType}: the module exited without reading ${rel}`,
      );
    }
    try {
      await writeAndClose(fifo, file.stream);
    } catch (err) {
      file.stream.destroy();
      throw new InstallerError(
        InstallerErrorCodes.MODULE_FAILED,
        `${ctx.payloadType}: the module did not read all of ${rel}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    ctx.log(`${ctx.payloadType}: streamed ${file.name} (${file.size} bytes)`);
  }
}
