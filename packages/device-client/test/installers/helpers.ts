import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import type { InstallContext, PayloadFile } from '../../src/installers/types.js';

const dirs: string[] = [];

/** A fresh temporary directory, removed after the test. */
export async function tempDir(prefix = 'otakit-inst-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** An install context whose log lines are collected in `lines`. */
export function makeContext(
  workDir: string,
  overrides: Partial<InstallContext> = {},
): InstallContext & { lines: string[] } {
  const lines: string[] = [];
  return {
    workDir,
    artifactName: 'release-2',
    payloadIndex: 0,
    payloadType: 'rootfs-image',
    header: {
      headerInfo: {
        payloads: [{ type: overrides.payloadType ?? 'rootfs-image' }],
        artifact_provides: { artifact_name: 'release-2', artifact_group: 'stable' },
        artifact_depends: { device_type: ['test-device'] },
      },
      typeInfo: { type: overrides.payloadType ?? 'rootfs-image' },
      metaData: undefined,
    },
    deviceType: 'test-device',
    log: (line: string) => lines.push(line),
    lines,
    ...overrides,
  };
}

/** Payload files from in-memory contents, each streamed in several (up to ~16) chunks. */
export async function* payload(files: Record<string, string | Buffer>): AsyncIterable<PayloadFile> {
  for (const [name, content] of Object.entries(files)) {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const chunks: Buffer[] = [];
    const step = Math.max(7, Math.ceil(buf.length / 16));
    for (let off = 0; off < buf.length; off += step) chunks.push(buf.subarray(off, off + step));
    yield { name, size: buf.length, stream: Readable.from(chunks) };
  }
}
