import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { AbortError, type PagePromise, type RequestOptions } from '@otakit/core';
import { EventEmitter } from 'eventemitter3';
import { multipartBody } from '../multipart.js';
import { idFromLocation, type ListOptions, seg, type Transport } from '../transport.js';
import type { Artifact, ArtifactLink, Release } from '../types.js';

const V1 = '/api/management/v1/deployments';
const V2 = '/api/management/v2/deployments';

/** What to upload: a file path, or a byte stream. */
export type ArtifactSource =
  | string
  | Readable
  | AsyncIterable<Uint8Array>
  | { stream: Readable | AsyncIterable<Uint8Array>; size?: number };

/** Options of {@link ArtifactsResource.upload}. */
export interface UploadOptions extends RequestOptions {
  /** The artifact's description. */
  description?: string;
  /** The file name sent in the multipart body. Default: the path's base name, or `artifact.mender`. */
  filename?: string;
  /** The stream's size in bytes, when known (sent as Content-Length; makes progress a fraction). */
  size?: number;
  /** Called with upload progress; same as `upload.on('progress', ...)`. */
  onProgress?: (progress: UploadProgress) => void;
}

/** Upload progress: the artifact bytes sent so far and the total when known. */
export interface UploadProgress {
  loaded: number;
  total: number | undefined;
}

/** The result of an upload. */
export interface UploadedArtifact {
  /** The new artifact's id. */
  id: string;
}

/** Events of an {@link ArtifactUpload}. */
export interface ArtifactUploadEvents {
  progress: (progress: UploadProgress) => void;
}

/**
 * A running artifact upload: `await` it for the new artifact id, listen to `progress`, and
 * `abort()` it. The file is streamed: memory stays flat whatever its size.
 *
 * @example
 * ```ts
 * const upload = mgmt.artifacts.upload('./app-1.2.mender', { description: 'release 1.2' })
 * upload.on('progress', ({ loaded, total }) => console.log(loaded, total))
 * const { id } = await upload
 * ```
 */
export class ArtifactUpload
  extends EventEmitter<ArtifactUploadEvents>
  implements PromiseLike<UploadedArtifact>
{
  readonly #controller = new AbortController();
  readonly #done: Promise<UploadedArtifact>;

  /** @internal */
  constructor(
    run: (signal: AbortSignal, emit: (p: UploadProgress) => void) => Promise<UploadedArtifact>,
    signal?: AbortSignal,
  ) {
    super();
    if (signal !== undefined) {
      if (signal.aborted) this.#controller.abort(signal.reason);
      else signal.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true });
    }
    this.#done = run(this.#controller.signal, (p) => this.emit('progress', p));
    // The caller may only listen to events; the result is still reported through then().
    this.#done.catch(() => {});
  }

  /** Aborts the upload; the upload rejects with `reason` (default an `AbortError`). */
  abort(reason?: unknown): void {
    this.#controller.abort(reason ?? new AbortError('artifact upload aborted'));
  }

  // biome-ignore lint/suspicious/noThenProperty: an upload is awaitable by design.
  then<R1 = UploadedArtifact, R2 = never>(
    onfulfilled?: ((value: UploadedArtifact) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#done.then(onfulfilled, onrejected);
  }
}

/** Filters of {@link ArtifactsResource.list}. */
export interface ArtifactListOptions extends ListOptions {
  /** Artifact name (exact, or a prefix ending in `*`). */
  name?: string;
  description?: string;
  deviceType?: string;
}

/** Artifacts: upload (streamed, with progress and abort), list, get, delete, download link. */
export class ArtifactsResource {
  readonly #t: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /**
   * Uploads a Mender artifact from a path or a stream as a streamed multipart body. Per-attempt
   * timeouts do not apply unless you pass `timeout`; abort with `upload.abort()` or `signal`.
   */
  upload(source: ArtifactSource, opts: UploadOptions = {}): ArtifactUpload {
    const { description, filename, size, onProgress, ...rest } = opts;
    const upload = new ArtifactUpload(async (signal, emit) => {
      let open: () => AsyncIterable<Uint8Array>;
      let total = size;
      let name = filename;
      if (typeof source === 'string') {
        total ??= (await stat(source)).size;
        name ??= basename(source);
        open = () => createReadStream(source, { highWaterMark: 256 * 1024, signal });
      } else {
        const stream = 'stream' in source ? source.stream : source;
        if ('stream' in source) total ??= source.size;
        let opened = false;
        open = () => {
          if (opened) throw new TypeError('a stream source can be uploaded only once');
          opened = true;
          return stream;
        };
      }
      const fields = [];
      if (description !== undefined) fields.push({ name: 'description', value: description });
      if (total !== undefined) fields.push({ name: 'size', value: String(total) });
      const body = multipartBody(fields, {
        name: 'artifact',
        filename: name ?? 'artifact.mender',
        size: total,
        open,
      });
      const report = (loaded: number): void => {
        const progress = { loaded, total };
        onProgress?.(progress);
        emit(progress);
      };
      report(0);
      const res = await this.#t.request<unknown>({
        ...rest,
        signal,
        timeout: rest.timeout ?? 0,
        method: 'POST',
        path: `${V1}/artifacts`,
        body: typeof source === 'string' ? () => body.stream(report) : body.stream(report),
        contentType: body.contentType,
        ...(body.contentLength === undefined ? {} : { contentLength: body.contentLength }),
        responseType: 'text',
      });
      const id = idFromLocation(res) ?? parseId(res.data);
      if (id === undefined) throw new TypeError('the server did not say the id of the uploaded artifact');
      return { id };
    }, rest.signal);
    return upload;
  }

  /**
   * Lists artifacts (deployments v2, paged).
   *
   * @example
   * ```ts
   * for await (const a of mgmt.artifacts.list({ name: 'app-*' })) console.log(a.name, a.id)
   * ```
   */
  list(opts: ArtifactListOptions = {}): PagePromise<Artifact> {
    const { name, description, deviceType, ...rest } = opts;
    return this.#t.list<Artifact>(`${V2}/artifacts`, { name, description, device_type: deviceType }, rest);
  }

  /** Gets one artifact. */
  async get(artifactId: string, opts: RequestOptions = {}): Promise<Artifact> {
    const res = await this.#t.request<Artifact>({
      ...opts,
      method: 'GET',
      path: `${V1}/artifacts/${seg(artifactId)}`,
    });
    return res.data;
  }

  /** Deletes an artifact (fails with 409 while a deployment uses it). */
  async delete(artifactId: string, opts: RequestOptions = {}): Promise<void> {
    await this.#t.request<void>({
      ...opts,
      method: 'DELETE',
      path: `${V1}/artifacts/${seg(artifactId)}`,
      responseType: 'void',
    });
  }

  /** A pre-signed link to download the artifact (`{ uri, expire }`); it expires. */
  async downloadLink(artifactId: string, opts: RequestOptions = {}): Promise<ArtifactLink> {
    const res = await this.#t.request<ArtifactLink>({
      ...opts,
      method: 'GET',
      path: `${V1}/artifacts/${seg(artifactId)}/download`,
    });
    return res.data;
  }
}

function parseId(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  try {
    const body = JSON.parse(text) as { id?: unknown };
    return typeof body.id === 'string' ? body.id : undefined;
  } catch {
    return undefined;
  }
}

/** Filters of {@link ReleasesResource.list}. */
export interface ReleaseListOptions extends ListOptions {
  /** Release name filter. */
  name?: string;
  /** Releases with any of these tags. */
  tag?: string[];
  updateType?: string;
}

/** Releases: the artifacts grouped by artifact name. */
export class ReleasesResource {
  readonly #t: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#t = transport;
  }

  /** Lists releases (deployments v2, paged). */
  list(opts: ReleaseListOptions = {}): PagePromise<Release> {
    const { name, tag, updateType, ...rest } = opts;
    return this.#t.list<Release>(`${V2}/deployments/releases`, { name, tag, update_type: updateType }, rest);
  }
}
