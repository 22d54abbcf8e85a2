/**
 * Worker thread entry (built to dist/artifact-verify-worker.js): reads and verifies one uploaded
 * artifact file with core's reader, off the server's main thread, and posts back either the
 * artifact's info or the ArtifactError's code and message. See `artifact-intake.ts`.
 */

import { createReadStream } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ArtifactError, readArtifact } from '@otakit/core';

/** What the intake passes to the worker. */
export interface VerifyRequest {
  path: string;
  trustedKeys?: string[];
}

async function verify(request: VerifyRequest): Promise<void> {
  try {
    const info = await readArtifact(
      createReadStream(request.path, { highWaterMark: 256 * 1024 }),
      request.trustedKeys ? { trustedKeys: request.trustedKeys } : {},
    );
    parentPort?.postMessage({ ok: true, info });
  } catch (err) {
    parentPort?.postMessage(
      err instanceof ArtifactError
        ? { ok: false, code: err.code, message: err.message }
        : { ok: false, message: err instanceof Error ? err.message : String(err) },
    );
  }
}

void verify(workerData as VerifyRequest);
