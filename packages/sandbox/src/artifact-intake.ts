import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import { ArtifactError, readArtifact } from '@otakit/core';
import { nowIso, type SandboxContext } from './context.js';
import { badRequest, HttpError } from './errors.js';
import { isUuid } from './http.js';
import type { ArtifactRecord } from './store.js';

type Part = MultipartFile | MultipartValue;

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
    let info: Awaited<ReturnType<typeof readArtifact>>;
    try {
      info = await readArtifact(
        createReadStream(tmp),
        ctx.trustedKeys ? { trustedKeys: ctx.trustedKeys } : {},
      );
    } catch (err) {
      if (err instanceof ArtifactError) throw badRequest(`cannot parse artifact file: ${err.message}`);
      throw err;
    }
    const deviceTypes = [...info.deviceTypes];
    const clash = Object.values(ctx.store.state.artifacts).find(
      (a) => a.name === info.artifactName && a.device_types_compatible.some((t) => deviceTypes.includes(t)),
    );
    if (clash) {
      throw new HttpError(409, 'an artifact with the same name and compatible device types already exists', {
        body: { error: 'artifact not unique', metadata: { conflict: { id: clash.id, name: clash.name } } },
      });
    }
    const depends: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(info.depends ?? {}))
      depends[k] = Array.isArray(v) ? v.map(String) : [String(v)];
    if (!depends.device_type) depends.device_type = deviceTypes;
    const provides: Record<string, string> = {};
    for (const [k, v] of Object.entries(info.provides)) provides[k] = Array.isArray(v) ? v.join(',') : v;
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
