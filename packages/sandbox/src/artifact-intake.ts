import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { ArtifactInfo } from '@otakit/core';
import { nowIso, type SandboxContext } from './context.js';
import { badRequest, HttpError } from './errors.js';
import { isUuid } from './http.js';
import type { ArtifactRecord } from './state.js';

type Part = MultipartFile | MultipartValue;

/**
 * The worker script: beside this module in dist/, or in dist/ when this module runs from source
 * (tests): the worker is plain JavaScript, so the package must be built.
 */
function workerScript(): URL {
  const sibling = new URL('./artifact-verify-worker.js', import.meta.url);
  return existsSync(sibling) ? sibling : new URL('../dist/artifact-verify-worker.js', import.meta.url);
}

/** The worker's answer. */
type VerifyReply = { ok: true; info: ArtifactInfo } | { ok: false; code?: string; message: string };

/**
 * Reads and verifies an uploaded artifact in a worker thread, so that decoding a hostile upload
 * (however long it takes) never keeps the server from answering other requests.
 * @throws {HttpError} 400 when the artifact is refused (an ArtifactError in the worker)
 */
async function verifyOffThread(path: string, trustedKeys: string[] | undefined): Promise<ArtifactInfo> {
  const worker = new Worker(workerScript(), {
    workerData: { path, ...(trustedKeys ? { trustedKeys } : {}) },
  });
  try {
    const reply = await new Promise<VerifyReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`artifact verification worker exited with ${code}`)));
    });
    if (reply.ok) return reply.info;
    if (reply.code !== undefined) throw badRequest(`cannot parse artifact file: ${reply.message}`);
    throw new Error(`artifact verification failed: ${reply.message}`);
  } finally {
    await worker.terminate();
  }
}

/** Upload fields the real server reads before the `artifact` part. */
interface UploadFields {
  description: string;
  size?: number;
  artifactId?: string;
}

/**
 * Receives `POST /artifacts`: reads the form parts up to `artifact` (later parts are not read),
 * streams the file to disk while hashing it, parses and verifies it with the core reader, and
 * stores it. A broken artifact is refused with 400 and its bytes are deleted.
 */
export async function receiveArtifactUpload(
  ctx: SandboxContext,
  parts: AsyncIterable<Part>,
): Promise<ArtifactRecord> {
  const fields: UploadFields = { description: '' };
  for await (const part of parts) {
    if (part.type === 'field') {
      const value = String(part.value);
      if (part.fieldname === 'description') fields.description = value;
      else if (part.fieldname === 'size') {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw badRequest('invalid size');
        fields.size = n;
      } else if (part.fieldname === 'artifact_id') {
        if (!isUuid(value)) throw badRequest('artifact_id: must be a valid UUID');
        fields.artifactId = value.toLowerCase();
      }
      continue;
    }
    if (part.fieldname !== 'artifact') {
      part.file.resume();
      continue;
    }
    return storeArtifact(ctx, part, fields);
  }
  throw badRequest('request does not contain artifact');
}

async function storeArtifact(
  ctx: SandboxContext,
  part: MultipartFile,
  fields: UploadFields,
): Promise<ArtifactRecord> {
  const id = fields.artifactId ?? randomUUID();
  if (ctx.store.state.artifacts[id]) throw new HttpError(409, 'artifact with this id already exists');
  const tmp = join(ctx.artifactsDir, `${id}.upload`);
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(part.file, counter, createWriteStream(tmp, { mode: 0o600 }));
    if (part.file.truncated) throw new HttpError(413, 'artifact file too large');
    if (fields.size !== undefined && fields.size !== size)
      throw badRequest('artifact size does not match the size field');
    const info = await verifyOffThread(tmp, ctx.trustedKeys);
    const deviceTypes = [...info.deviceTypes];
    const clash = Object.values(ctx.store.state.artifacts).find(
      (a) => a.name === info.artifactName && a.device_types_compatible.some((t) => deviceTypes.includes(t)),
    );
    if (clash) {
      throw new HttpError(409, 'an artifact with the same name and compatible device types already exists', {
        body: { error: 'artifact not unique', metadata: { conflict: { id: clash.id, name: clash.name } } },
      });
    }
    // Built from entries, so artifact keys such as `__proto__` stay ordinary own keys.
    const depends: Record<string, string[]> = Object.fromEntries(
      Object.entries(info.depends ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : [String(v)]]),
    );
    if (!Object.hasOwn(depends, 'device_type')) depends.device_type = deviceTypes;
    const provides: Record<string, string> = Object.fromEntries(
      Object.entries(info.provides).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
    );
    const record: ArtifactRecord = {
      id,
      name: info.artifactName,
      description: fields.description,
      device_types_compatible: deviceTypes,
      ...(info.artifactGroup ? { artifact_group: info.artifactGroup } : {}),
      format_version: info.formatVersion,
      payload_types: info.payloadTypes.map((t) => t ?? ''),
      signed: info.signed,
      artifact_provides: provides,
      artifact_depends: depends,
      ...(info.clearsProvides.length > 0 ? { clears_artifact_provides: [...info.clearsProvides] } : {}),
      files: info.files.map((f) => ({
        payload_index: f.payloadIndex,
        name: f.name,
        size: f.size,
        checksum: f.sha256,
      })),
      size,
      sha256: hash.digest('hex'),
      modified: nowIso(ctx),
    };
    await rename(tmp, join(ctx.artifactsDir, `${id}.mender`));
    ctx.store.state.artifacts[id] = record;
    ctx.store.markChanged();
    return record;
  } finally {
    await rm(tmp, { force: true });
  }
}
