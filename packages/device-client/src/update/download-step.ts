import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  type ArtifactHeader,
  type ArtifactInfo,
  type BackoffOptions,
  checkCompatibility,
  type MergedHeader,
  mergeHeader,
  readArtifact,
} from '@otakit/core';
import { resumableDownload } from '../download/resumable-download.js';
import { DownloadStaging } from '../download/staging.js';
import { DeviceError, DeviceErrorCodes } from '../errors.js';
import { safeEmit } from '../events.js';
import type { UpdateParts } from './context.js';
import { PayloadBridge } from './payload-bridge.js';
import { checkArtifactPolicy, checkVersionPolicy, requiresSignature, stringProvides } from './policy.js';
import type { ArtifactRecord, UpdateRecord, UpdateStateName } from './states.js';

/** How the device downloads artifacts. */
export interface DownloadOptions {
  /** Bandwidth cap (bytes/s). Default unlimited. */
  bytesPerSecond?: number;
  /** No byte for this long counts as a dropped connection (ms). Default 60 000. */
  stallTimeoutMs?: number;
  /** Attempts in a row without progress before giving up. Default 10 (Mender's `RetryDownloadCount`). */
  maxAttempts?: number;
  /** Backoff between attempts (core's {@link BackoffOptions}). Default `{ baseDelayMs: 1000, maxDelayMs: 60_000 }`. */
  retry?: Partial<BackoffOptions>;
  /** Bytes between durable checkpoints of the staged download. Default 16 MiB. */
  checkpointBytes?: number;
  /** Stage the artifact in `dataDir/download` so a restarted process resumes. Default true. */
  stage?: boolean;
}

/**
 * What the device keeps of an artifact's header, from core's merged view ({@link mergeHeader}):
 * the provides it will commit are exactly the provides core reports (less `artifact_name` and
 * `artifact_group`, kept as name and group). `clearsProvides` stays undefined when no type-info
 * says anything, which means Mender's default (`["*"]`) at the commit.
 * @internal
 */
export function artifactRecord(
  header: ArtifactHeader,
  merged: MergedHeader = mergeHeader(header),
  signed = false,
): ArtifactRecord {
  const provides = stringProvides(merged.provides);
  delete provides.artifact_name;
  delete provides.artifact_group;
  const saysClears = [...header.payloads, ...(header.augmented?.payloads ?? [])].some(
    (p) => p.typeInfo.clears_artifact_provides !== undefined && p.typeInfo.clears_artifact_provides !== null,
  );
  return {
    name: merged.artifactName,
    group: merged.artifactGroup ?? undefined,
    provides,
    clearsProvides: saysClears ? merged.clearsProvides : undefined,
    headerInfo: header.headerInfo,
    payloads: header.payloads
      .filter((p): p is typeof p & { type: string } => typeof p.type === 'string' && p.type !== '')
      .map((p) => ({
        index: p.index,
        type: p.type,
        typeInfo: p.typeInfo,
        metaData: p.metaData ?? undefined,
      })),
    signed,
  };
}

/** The artifact's byte source: a file, or a resuming (staged) download. */
function artifactInput(
  m: UpdateParts,
  record: UpdateRecord,
  staging: DownloadStaging | undefined,
  signal?: AbortSignal,
) {
  const source = record.source;
  if (source.kind === 'file') return createReadStream(source.path, { highWaterMark: 1 << 20 });
  const d = m.download;
  const channel = m.channel;
  return resumableDownload({
    http: m.http,
    url: source.url,
    ...(source.kind === 'deployment' && channel
      ? {
          renewUrl: async () => {
            const url = await channel.refreshLink(source.deploymentId, signal ? { signal } : {});
            if (url) {
              source.url = url;
              await m.states.save(record);
            }
            return url;
          },
        }
      : {}),
    ...(staging ? { staging: { store: staging, key: record.id } } : {}),
    ...(d.bytesPerSecond !== undefined ? { bytesPerSecond: d.bytesPerSecond } : {}),
    ...(d.stallTimeoutMs !== undefined ? { stallTimeoutMs: d.stallTimeoutMs } : {}),
    ...(d.maxAttempts !== undefined ? { maxAttempts: d.maxAttempts } : {}),
    ...(d.retry !== undefined ? { retry: d.retry } : {}),
    ...(d.checkpointBytes !== undefined ? { checkpointBytes: d.checkpointBytes } : {}),
    ...(signal ? { signal } : {}),
    onProgress: (p) => safeEmit(m, 'download:progress', { updateId: record.id, ...p }),
    onRetry: (r) => {
      safeEmit(m, 'download:retry', { updateId: record.id, ...r });
      void m.log.append(
        record,
        'warning',
        `download: ${r.reason}; resuming at byte ${r.offset} in ${r.delayMs} ms`,
      );
    },
  });
}

/**
 * The Download state: streams the artifact through core's reader (checksums, signature) into the
 * installers. Nothing reaches an installer before the device type, depends, installers and version
 * policy are checked against the header; the signature policy is checked once the manifest is.
 * @internal
 */
export async function downloadStep(
  m: UpdateParts,
  record: UpdateRecord,
  signal?: AbortSignal,
): Promise<UpdateStateName> {
  await m.reporter.report(record, 'downloading', false, signal);
  const staging =
    record.source.kind !== 'file' && (m.download.stage ?? true)
      ? new DownloadStaging(join(m.dataDir, 'download'))
      : undefined;
  const input = artifactInput(m, record, staging, signal);
  const installed = await m.provides.read();
  record.previous ??= { name: installed.artifactName, group: installed.artifactGroup };
  const device = {
    deviceType: m.deviceType,
    provides: {
      ...installed.provides,
      artifact_name: installed.artifactName,
      ...(installed.artifactGroup ? { artifact_group: installed.artifactGroup } : {}),
    },
  };
  let artifact: ArtifactRecord | undefined;
  const bridge = new PayloadBridge((index) => {
    const payload = artifact?.payloads.find((p) => p.index === index);
    if (!artifact || !payload) {
      throw new DeviceError(DeviceErrorCodes.BAD_ARTIFACT, `payload ${index} is not in the artifact header`);
    }
    return {
      installer: m.payloads.installerFor(payload.type),
      ctx: m.payloads.context(record, index, artifact, signal),
    };
  });
  const onHeader = async (raw: ArtifactHeader): Promise<ArtifactRecord> => {
    const merged = mergeHeader(raw);
    const view = artifactRecord(raw, merged);
    // Nothing reaches an installer before device type, depends and policy are checked.
    checkCompatibility(raw, device);
    for (const p of view.payloads) m.payloads.installerFor(p.type);
    checkVersionPolicy(m.policy, view.provides, view.name, installed);
    await m.payloads.storeScripts(record, raw);
    record.artifact = view;
    await m.states.save(record);
    await m.log.append(record, 'info', `artifact ${view.name}: payloads ${merged.payloadTypes.join(', ')}`);
    return view;
  };
  let info: ArtifactInfo;
  try {
    info = await readArtifact(input, {
      ...(m.policy.trustedKeys ? { trustedKeys: m.policy.trustedKeys } : {}),
      requireSignature: requiresSignature(m.policy),
      ...(signal ? { signal } : {}),
      onPayloadFile: async (file, raw) => {
        artifact ??= await onHeader(raw);
        // The installer's own copy of the file stands for the staged bytes when it adopts them.
        let placement = staging?.placement(file.payloadIndex, file.name);
        const type = artifact.payloads.find((p) => p.index === file.payloadIndex)?.type;
        if (placement && !(type && m.payloads.installerFor(type).adoptsPlacement)) {
          placement.decline();
          placement = undefined;
        }
        await bridge.onFile(placement ? { ...file, placement } : file);
      },
    });
  } catch (err) {
    if (input instanceof Readable) input.destroy();
    // Ends the download generator (the reader stopped pulling from it): its staging is closed and
    // its last checkpoint recorded before anything else touches `dataDir/download`.
    else await input.return(undefined).catch(() => {});
    await bridge.abort();
    throw err;
  }
  artifact ??= await onHeader(info.header);
  checkArtifactPolicy(m.policy, info, installed);
  record.artifact = artifactRecord(info.header, info, info.signed);
  await bridge.finish(info.payloadTypes.map((t) => t ?? ''));
  await m.log.append(record, 'info', `downloaded and verified ${artifact.name}`);
  return 'ArtifactInstall';
}
