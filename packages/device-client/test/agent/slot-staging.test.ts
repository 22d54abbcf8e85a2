/**
 * Restart resume without a second copy: the payload bytes an installer wrote (the inactive slot)
 * are the staged copy. A download is cut at a "power cut" (abort), a new staging instance replays
 * the prefix from the headers file and from the written file, re-hashing it through the reader,
 * and fetches only the rest.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ArtifactError, HttpClient, readArtifact, writeArtifact } from '@otakit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactLayout } from '../../src/download/artifact-layout.js';
import { DownloadStaging, resumableDownload } from '../../src/index.js';
import { writePayloadFile } from '../../src/installers.js';
import { FaultServer } from './fault-server.js';

const VECTORS = resolve(import.meta.dirname, '../../../../../shared/vectors/artifacts');
const IMAGE_SIZE = 3 * 1024 * 1024 + 321;

/** The payload files of an artifact (name → content), as core's reader delivers them. */
async function payloadFiles(path: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  await readArtifact(createReadStream(path), {
    onPayloadFile: async (file) => {
      const parts: Buffer[] = [];
      for await (const c of file.stream) parts.push(c as Buffer);
      out.set(`${file.payloadIndex}/${file.name}`, Buffer.concat(parts));
    },
  });
  return out;
}

/** The spans the layout finds, fed in uneven chunks (headers and content split across chunks). */
function spansOf(bytes: Buffer): { spans: ArtifactLayout['spans']; content: Map<string, Buffer> } {
  const layout = new ArtifactLayout();
  const content = new Map<string, Buffer[]>();
  let pos = 0;
  let step = 1;
  while (pos < bytes.length) {
    const chunk = bytes.subarray(pos, pos + step);
    for (const seg of layout.feed(chunk)) {
      if (!seg.span) continue;
      const key = `${seg.span.payloadIndex}/${seg.span.name}`;
      content.set(key, [...(content.get(key) ?? []), chunk.subarray(seg.from, seg.to)]);
    }
    pos += chunk.length;
    step = (step * 7 + 3) % 4099;
  }
  return {
    spans: layout.spans,
    content: new Map([...content].map(([k, v]) => [k, Buffer.concat(v)])),
  };
}

describe('artifact layout', () => {
  it('finds the payload content of an uncompressed artifact made by mender-artifact', async () => {
    const path = join(VECTORS, 'compress-none.mender');
    const expected = await payloadFiles(path);
    const bytes = await readFile(path);
    const { spans, content } = spansOf(bytes);
    expect(spans.length).toBe(expected.size);
    for (const span of spans) {
      const key = `${span.payloadIndex}/${span.name}`;
      expect(bytes.subarray(span.start, span.start + span.size).equals(expected.get(key)!)).toBe(true);
      expect(content.get(key)?.equals(expected.get(key)!) ?? span.size === 0).toBe(true);
    }
  });

  it('reports no payload content inside a compressed payload', async () => {
    const { spans, content } = spansOf(await readFile(join(VECTORS, 'compress-gzip.mender')));
    expect(spans).toEqual([]);
    expect(content.size).toBe(0);
  });

  it('stops following on bytes that are not a tar, reporting them as plain bytes', () => {
    const layout = new ArtifactLayout();
    const segments = layout.feed(randomBytes(4096));
    expect(layout.lost).toBe(true);
    expect(segments).toEqual([{ from: 0, to: 4096 }]);
  });
});

describe('restart resume from the written payload', () => {
  let dir: string;
  let artifact: Buffer;
  let image: Buffer;
  let server: FaultServer;
  let http: HttpClient;
  let url: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otakit-slot-stage-'));
    image = randomBytes(IMAGE_SIZE);
    await writeFile(join(dir, 'rootfs.img'), image);
    await writeArtifact(
      {
        type: 'rootfs-image',
        artifactName: 'slot-stage',
        deviceTypes: ['dev'],
        compression: 'none',
        files: [join(dir, 'rootfs.img')],
      },
      join(dir, 'a.mender'),
    );
    artifact = await readFile(join(dir, 'a.mender'));
    server = new FaultServer(artifact);
    url = `${await server.listen()}/artifact`;
    http = new HttpClient({ baseUrl: url });
  });
  afterEach(async () => {
    await http.close();
    await server.close();
  });

  /**
   * One download attempt: the artifact through core's reader into `slot` (adopting the placement
   * when `adopt`); aborted once `cutAt` artifact bytes went by.
   */
  async function attempt(opts: { cutAt?: number; adopt?: boolean; slot: string }) {
    const staging = new DownloadStaging(join(dir, 'download'));
    const ac = new AbortController();
    let seen = 0;
    const input = (async function* () {
      for await (const chunk of resumableDownload({
        http,
        url,
        staging: { store: staging, key: 'update-1' },
        checkpointBytes: 64 * 1024,
        retry: { baseDelayMs: 1, maxDelayMs: 5 },
        signal: ac.signal,
      })) {
        seen += chunk.length;
        yield chunk;
        if (opts.cutAt !== undefined && seen >= opts.cutAt) ac.abort(new Error('power cut'));
      }
    })();
    let inPlace = -1;
    // As the agent does when the reader fails: end the download, which closes the staging.
    const cleanup = () => input.return(undefined).catch(() => {});
    await readArtifact(input, {
      signal: ac.signal,
      onPayloadFile: async (file) => {
        let placement = staging.placement(file.payloadIndex, file.name);
        if (opts.adopt === false) {
          placement?.decline();
          placement = undefined;
        }
        const adopting = placement && {
          ...placement,
          adopt: (target: Parameters<typeof placement.adopt>[0]) => {
            inPlace = placement!.adopt(target);
            return inPlace;
          },
        };
        await writePayloadFile(opts.slot, { stream: file.stream, placement: adopting });
      },
    }).finally(cleanup);
    return { inPlace };
  }

  const partSize = () => stat(join(dir, 'download', 'artifact.part')).then((s) => s.size);

  it('keeps only the headers in the staging file and resumes from the slot after a cut', async () => {
    const slot = join(dir, 'slot-b.img');
    await expect(attempt({ cutAt: artifact.length / 2, slot })).rejects.toThrow('power cut');
    // The payload is in the slot alone: the staging file holds the few KiB before it.
    expect(await partSize()).toBeLessThan(16 * 1024);
    const sentBefore = server.bytesSent;
    const { inPlace } = await attempt({ slot });
    // The slot's prefix was adopted as it was, and only the rest was fetched (Range).
    expect(inPlace).toBeGreaterThan(IMAGE_SIZE / 4);
    expect(server.requests.at(-1)?.range).toMatch(/^bytes=\d+-$/);
    expect(server.bytesSent - sentBefore).toBeLessThan(artifact.length * 0.75);
    expect((await readFile(slot)).equals(image)).toBe(true);
  });

  it('re-hashes the prefix in the slot: a slot changed during the outage fails the checksum', async () => {
    const slot = join(dir, 'slot-b.img');
    await expect(attempt({ cutAt: artifact.length / 2, slot })).rejects.toThrow('power cut');
    const torn = await readFile(slot);
    torn[1000] = (torn[1000] ?? 0) ^ 0xff;
    await writeFile(slot, torn);
    const err = await attempt({ slot }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_CHECKSUM_MISMATCH');
  });

  it('fetches again what the slot lost during the outage, and writes it again', async () => {
    const slot = join(dir, 'slot-b.img');
    await expect(attempt({ cutAt: artifact.length / 2, slot })).rejects.toThrow('power cut');
    await truncate(slot, 100_000);
    const sentBefore = server.bytesSent;
    const { inPlace } = await attempt({ slot });
    // The slot's file starts the part to fetch again: nothing it no longer holds is taken as there.
    expect(inPlace).toBe(0);
    expect(server.bytesSent - sentBefore).toBeGreaterThan(IMAGE_SIZE);
    expect((await readFile(slot)).equals(image)).toBe(true);
  });

  it('stages the payload itself for an installer that keeps no copy, and resumes from it', async () => {
    const slot = join(dir, 'module-file');
    await expect(attempt({ cutAt: artifact.length / 2, adopt: false, slot })).rejects.toThrow('power cut');
    expect(await partSize()).toBeGreaterThan(IMAGE_SIZE / 4);
    const sentBefore = server.bytesSent;
    await attempt({ adopt: false, slot });
    expect(server.bytesSent - sentBefore).toBeLessThan(artifact.length * 0.75);
    expect((await readFile(slot)).equals(image)).toBe(true);
  });
});
