import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@otakit/core';
import type { FastifyInstance } from 'fastify';
import type { SandboxContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import type { DownloadFaults } from '../faults.js';
import { requireSignedLink } from '../signing.js';
import type { ArtifactRecord } from '../state.js';
import { downloadPath } from './deployments-devices.js';

/** Parses a single `bytes=` range against `size`; undefined = ignore, null = unsatisfiable. @internal */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || start > end) return null;
  return { start, end };
}

function ifRangeMatches(ifRange: string, etag: string, lastModified: string): boolean {
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag;
  return v === lastModified;
}

/** Artifact downloads through signed, time-limited links (no token needed). @internal */
export async function downloadRoutes(app: FastifyInstance, ctx: SandboxContext): Promise<void> {
  app.get<{ Params: { id: string } }>(downloadPath(':id'), async (request, reply) => {
    const url = requireSignedLink(ctx, request.url);
    const artifact = ctx.store.state.artifacts[request.params.id];
    if (!artifact) throw notFound('artifact not found');
    const faults = ctx.faults.forDownload(url.pathname);
    await serveArtifact(ctx, artifact, request.headers, reply, faults, request.id);
  });
}

async function serveArtifact(
  ctx: SandboxContext,
  artifact: ArtifactRecord,
  headers: Record<string, string | string[] | undefined>,
  reply: import('fastify').FastifyReply,
  faults: DownloadFaults,
  requestId: string,
): Promise<void> {
  const etag = `"${artifact.sha256}"`;
  const lastModified = new Date(artifact.modified).toUTCString();
  let range: { start: number; end: number } | undefined;
  const rangeHeader = headers.range;
  if (typeof rangeHeader === 'string' && !faults.ignoreRange) {
    const ifRange = headers['if-range'];
    if (typeof ifRange !== 'string' || ifRangeMatches(ifRange, etag, lastModified)) {
      const parsed = parseRange(rangeHeader, artifact.size);
      if (parsed === null) {
        reply.header('Content-Range', `bytes */${artifact.size}`);
        throw new HttpError(416, 'requested range not satisfiable');
      }
      range = parsed;
    }
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? artifact.size - 1;
  const length = artifact.size === 0 ? 0 : end - start + 1;
  reply.hijack();
  const res = reply.raw;
  res.statusCode = range ? 206 : 200;
  res.setHeader('Content-Type', 'application/vnd.mender-artifact');
  res.setHeader('Content-Length', String(length));
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  res.setHeader('X-MEN-RequestID', requestId);
  if (range) res.setHeader('Content-Range', `bytes ${start}-${end}/${artifact.size}`);
  res.flushHeaders();
  if (length === 0) {
    res.end();
    return;
  }
  const file = createReadStream(join(ctx.artifactsDir, `${artifact.id}.mender`), { start, end });
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => res.write(chunk, (err) => (err ? reject(err) : resolve())));
  let sent = 0;
  let stalled = false;
  try {
    for await (const data of file) {
      let chunk = data as Buffer;
      while (chunk.length > 0) {
        let limit = chunk.length;
        if (faults.resetAfterBytes !== undefined) limit = Math.min(limit, faults.resetAfterBytes - sent);
        if (faults.stall && !stalled) limit = Math.min(limit, Math.max(0, faults.stall.afterBytes - sent));
        if (limit > 0) {
          await write(chunk.subarray(0, limit));
          sent += limit;
          chunk = chunk.subarray(limit);
        }
        if (faults.resetAfterBytes !== undefined && sent >= faults.resetAfterBytes) {
          // End the connection mid-body: the client sees the response end short of Content-Length.
          file.destroy();
          if (faults.resetMode === 'reset') res.socket?.resetAndDestroy();
          res.destroy();
          return;
        }
        if (faults.stall && !stalled && sent >= faults.stall.afterBytes) {
          stalled = true;
          if (faults.stall.ms === undefined) {
            await new Promise<void>((resolve) => res.once('close', resolve));
            file.destroy();
            return;
          }
          await sleep(faults.stall.ms);
        }
        if (res.destroyed) {
          file.destroy();
          return;
        }
      }
    }
    res.end();
  } catch {
    file.destroy();
    res.destroy();
  }
}
