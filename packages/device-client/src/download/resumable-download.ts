import type { Readable } from 'node:stream';
import {
  ApiError,
  type BackoffOptions,
  backoffDelay,
  type HttpClient,
  RateLimitError,
  sleep,
} from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import type { DownloadStaging } from './staging.js';

/** Progress of a download. */
export interface DownloadProgress {
  /** Bytes delivered to the consumer so far (including a replayed staged prefix). */
  bytes: number;
  /** Full size, when known. */
  totalBytes: number | undefined;
  /** Bytes received over the network in this process (the data budget). */
  networkBytes: number;
}

/** Why a download is being retried. */
export interface DownloadRetry {
  attempt: number;
  delayMs: number;
  reason: string;
  /** Offset the next request resumes from. */
  offset: number;
}

/** Options of {@link resumableDownload}. */
export interface ResumableDownloadOptions {
  /** The transport (the signed URL is fetched with `auth: false`: no device token is sent). */
  http: HttpClient;
  /** The (signed) artifact URL. */
  url: string;
  /**
   * Called when the link has expired (403 or 410): returns a fresh URL (e.g. from a new `next`
   * call) or undefined to give up.
   */
  renewUrl?: () => Promise<string | undefined>;
  /** Stage the bytes to disk so a restarted process resumes instead of starting over. */
  staging?: { store: DownloadStaging; key: string };
  /** Attempts in a row without progress before giving up. Default 10 (Mender's `RetryDownloadCount`). */
  maxAttempts?: number;
  /** Link renewals allowed. Default 3. */
  maxRenewals?: number;
  /**
   * Backoff between attempts (core's {@link BackoffOptions}; full jitter, doubling). Default
   * `{ baseDelayMs: 1000, maxDelayMs: 60_000 }`; `Retry-After` of a 429 wins.
   */
  retry?: Partial<BackoffOptions>;
  /** No byte for this long (waiting for headers or for the next chunk) counts as a dropped connection. Default 60 000. */
  stallTimeoutMs?: number;
  /** Bandwidth cap in bytes per second. Default unlimited. */
  bytesPerSecond?: number;
  /** Bytes between durable checkpoints of the staged file. Default 16 MiB. */
  checkpointBytes?: number;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  onRetry?: (r: DownloadRetry) => void;
}

/** The download's default backoff between attempts. */
export const DEFAULT_DOWNLOAD_RETRY: BackoffOptions = { baseDelayMs: 1000, maxDelayMs: 60_000 };

const firstHeader = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Parses `Content-Range: bytes a-b/size`. @internal */
export function parseContentRange(
  value: string | undefined,
): { start: number; end: number; size: number | undefined } | undefined {
  const m = value ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), size: m[3] === '*' ? undefined : Number(m[3]) };
}

/**
 * Downloads an artifact as a stream of chunks, surviving the faults of field networks: a dropped or
 * stalled connection resumes with `Range`/`If-Range` from the byte reached; a server that ignores
 * `Range` has the prefix skipped; an expired link is renewed through `renewUrl`; 5xx and 429
 * (`Retry-After` honoured) are retried with full-jitter backoff; 404 and other 4xx end the download
 * at once. With `staging`, bytes are kept on disk and a later process replays them before resuming.
 *
 * @example
 * ```ts
 * for await (const chunk of resumableDownload({ http, url })) hash.update(chunk)
 * ```
 */
export async function* resumableDownload(opts: ResumableDownloadOptions): AsyncGenerator<Buffer> {
  const maxAttempts = opts.maxAttempts ?? 10;
  const maxRenewals = opts.maxRenewals ?? 3;
  const backoff: BackoffOptions = { ...DEFAULT_DOWNLOAD_RETRY, ...opts.retry };
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const checkpointBytes = opts.checkpointBytes ?? 16 << 20;
  const signal = opts.signal;
  const staging = opts.staging?.store;

  let url = opts.url;
  let offset = 0;
  let totalBytes: number | undefined;
  let validator: string | undefined;
  let networkBytes = 0;
  let renewals = 0;
  let failures = 0;
  let lastCheckpoint = 0;

  if (staging && opts.staging) {
    const meta = await staging.open(opts.staging.key);
    totalBytes = meta.totalBytes;
    validator = meta.validator;
    for await (const chunk of staging.replay()) {
      const buf = chunk as Buffer;
      offset += buf.byteLength;
      yield buf;
    }
    lastCheckpoint = offset;
    opts.onProgress?.({ bytes: offset, totalBytes, networkBytes });
  }

  const throttleStart = performance.now();
  let throttled = 0;

  try {
    while (totalBytes === undefined || offset < totalBytes) {
      signal?.throwIfAborted();
      const headers: Record<string, string> = {};
      if (offset > 0) {
        headers.range = `bytes=${offset}-`;
        if (validator) headers['if-range'] = validator;
      }
      let failure: { reason: string; delayMs?: number } | undefined;
      let progressed = false;
      try {
        const res = await opts.http.request<Readable>({
          method: 'GET',
          path: url,
          auth: false,
          responseType: 'stream',
          headers,
          maxRetries: 0,
          timeout: stallMs,
          ...(signal ? { signal } : {}),
        });
        const body = res.data;
        let skip = 0;
        const length = Number(firstHeader(res.headers['content-length']));
        if (res.status === 206) {
          const range = parseContentRange(firstHeader(res.headers['content-range']));
          if (!range || range.start > offset) {
            body.destroy();
            throw new DeviceError(DeviceErrorCodes.DOWNLOAD, `unusable Content-Range for offset ${offset}`);
          }
          if (range.size !== undefined && totalBytes !== undefined && range.size !== totalBytes) {
            body.destroy();
            throw new DeviceError(DeviceErrorCodes.DOWNLOAD, 'the artifact changed size while resuming');
          }
          skip = offset - range.start;
          totalBytes ??= range.size;
        } else {
          // 200: a fresh download, or the server ignored Range / the If-Range validator changed.
          const etag = firstHeader(res.headers.etag);
          const lastModified = firstHeader(res.headers['last-modified']);
          const newValidator = etag && !etag.startsWith('W/') ? etag : lastModified;
          if (offset > 0 && validator && newValidator && newValidator !== validator) {
            body.destroy();
            throw new DeviceError(
              DeviceErrorCodes.DOWNLOAD,
              'the artifact changed on the server while resuming',
            );
          }
          const size = Number.isSafeInteger(length) && length >= 0 ? length : undefined;
          if (offset > 0 && totalBytes !== undefined && size !== undefined && size !== totalBytes) {
            body.destroy();
            throw new DeviceError(DeviceErrorCodes.DOWNLOAD, 'the artifact changed size while resuming');
          }
          skip = offset;
          if (offset === 0 || totalBytes === undefined) {
            totalBytes = size;
            validator = newValidator;
            await staging?.describe(totalBytes, validator);
          }
        }

        const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        try {
          for (;;) {
            let timer: NodeJS.Timeout | undefined;
            let next: IteratorResult<Buffer>;
            try {
              timer = setTimeout(
                () =>
                  body.destroy(
                    new DeviceError(DeviceErrorCodes.DOWNLOAD_STALLED, `no data for ${stallMs} ms`),
                  ),
                stallMs,
              );
              next = await it.next();
            } finally {
              clearTimeout(timer);
            }
            if (next.done) break;
            let chunk = next.value;
            networkBytes += chunk.byteLength;
            if (skip > 0) {
              if (chunk.byteLength <= skip) {
                skip -= chunk.byteLength;
                continue;
              }
              chunk = chunk.subarray(skip);
              skip = 0;
            }
            if (totalBytes !== undefined && offset + chunk.byteLength > totalBytes) {
              chunk = chunk.subarray(0, totalBytes - offset);
            }
            if (chunk.byteLength === 0) break;
            if (staging) {
              await staging.append(chunk);
              if (offset + chunk.byteLength - lastCheckpoint >= checkpointBytes) {
                await staging.checkpointBehind();
                lastCheckpoint = offset + chunk.byteLength;
              }
            }
            offset += chunk.byteLength;
            progressed = true;
            failures = 0;
            opts.onProgress?.({ bytes: offset, totalBytes, networkBytes });
            yield chunk;
            if (opts.bytesPerSecond) {
              throttled += chunk.byteLength;
              const due = (throttled / opts.bytesPerSecond) * 1000 - (performance.now() - throttleStart);
              if (due > 0) await sleep(due, signal);
            }
            if (totalBytes !== undefined && offset >= totalBytes) break;
          }
        } finally {
          if (totalBytes === undefined || offset < totalBytes) body.destroy();
          else await it.return?.();
        }
        if (totalBytes === undefined) {
          // No length: the end of the body is the end of the artifact.
          totalBytes = offset;
          break;
        }
        if (offset < totalBytes) failure = { reason: `connection closed at ${offset}/${totalBytes}` };
      } catch (err) {
        if (signal?.aborted) throw signal.reason ?? err;
        if (err instanceof DeviceError && err.code === DeviceErrorCodes.DOWNLOAD) throw err;
        if (err instanceof ApiError) {
          if ((err.status === 403 || err.status === 410) && opts.renewUrl && renewals < maxRenewals) {
            renewals++;
            const fresh = await opts.renewUrl();
            if (fresh === undefined) {
              throw new DeviceError(
                DeviceErrorCodes.DOWNLOAD,
                'the download link expired and was not renewed',
                {
                  cause: err,
                },
              );
            }
            url = fresh;
            opts.onRetry?.({
              attempt: failures,
              delayMs: 0,
              reason: `link expired (HTTP ${err.status})`,
              offset,
            });
            continue;
          }
          if (err instanceof RateLimitError) {
            failure = {
              reason: 'HTTP 429',
              ...(err.retryAfterMs === undefined ? {} : { delayMs: err.retryAfterMs }),
            };
          } else if (err.status === 408 || err.status >= 500) {
            failure = { reason: `HTTP ${err.status}` };
          } else {
            throw new DeviceError(DeviceErrorCodes.DOWNLOAD, `download failed with HTTP ${err.status}`, {
              cause: err,
            });
          }
        } else {
          const e = err as { code?: string; message?: string };
          failure = { reason: e.code ?? e.message ?? String(err) };
        }
      }
      if (failure) {
        if (!progressed) failures++;
        else failures = 1;
        if (failures > maxAttempts) {
          throw new DeviceError(
            DeviceErrorCodes.DOWNLOAD,
            `download gave up after ${maxAttempts} attempts without progress (${failure.reason})`,
          );
        }
        const delayMs = failure.delayMs ?? backoffDelay(failures, backoff);
        opts.onRetry?.({ attempt: failures, delayMs, reason: failure.reason, offset });
        await staging?.checkpoint();
        lastCheckpoint = offset;
        await sleep(delayMs, signal);
      }
    }
  } finally {
    await staging?.close();
  }
}
