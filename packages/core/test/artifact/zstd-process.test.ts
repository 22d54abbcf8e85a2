/**
 * zstd reading through the system `zstd` program (a child process), with the WebAssembly decoder
 * as the fallback when no zstd can be started: both give every zstd vector its expected outcome
 * and the same bytes; corrupt, truncated, empty and foreign streams are typed errors; a frame
 * whose window is over the limit is refused; a zstd killed mid-stream fails the read; and no zstd
 * process or socket directory outlives a read that fails or is aborted.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  expectedOutcome,
  loadVectorManifest,
  outcomeOfValidation,
  readVectorKey,
  vectorPath,
  zstdRawFrame,
} from '@otakit/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decompressor, payloadDecompressor } from '../../src/artifact/decompress.js';
import { ArtifactError } from '../../src/artifact/errors.js';
import { readArtifact } from '../../src/artifact/reader.js';
import { validateArtifact } from '../../src/artifact/validate.js';
import { writeArtifact } from '../../src/artifact/writer.js';
import { MAX_ZSTD_WINDOW_LOG } from '../../src/artifact/zstd.js';
import { ZSTD_COMMAND_ENV, ZstdFrameCheck } from '../../src/artifact/zstd-process.js';
import {
  childrenNamed,
  chunks,
  decodeAll,
  type PidLoggingWrapper,
  payload,
  pidLoggingWrapper,
  socketDirs,
  until,
} from './decoder-children.js';

const savedZstd = process.env[ZSTD_COMMAND_ENV];
/** A path no zstd can be started from: the reader falls back to the WebAssembly decoder. */
const NO_ZSTD = '/nonexistent/otakit-test/zstd';
let work: string;
/** The real zstd behind a wrapper that logs the pid of every run. */
let wrapper: PidLoggingWrapper;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-zstd-read-test-'));
  wrapper = await pidLoggingWrapper(work, 'zstd');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  if (savedZstd === undefined) delete process.env[ZSTD_COMMAND_ENV];
  else process.env[ZSTD_COMMAND_ENV] = savedZstd;
});

const zstdChildren = () => childrenNamed('zstd');

const zstd = (data: Uint8Array, ...args: string[]): Buffer =>
  execFileSync('zstd', ['-c', '-q', ...args], { input: data, maxBuffer: 64 << 20 });

const zstdVectors = loadVectorManifest().filter((v) => v.file.includes('zstd'));

describe('zstd reading', () => {
  it('has zstd vectors to check', () => {
    expect(zstdVectors.length).toBeGreaterThanOrEqual(7);
  });

  it.each(zstdVectors.map((v) => [v.file, v] as const))(
    '%s gives its expected outcome through the zstd program and through the fallback',
    async (_file, vector) => {
      const keys = Object.keys(vector.expected.verify_with);
      const validate = async () =>
        outcomeOfValidation(
          await validateArtifact(createReadStream(vectorPath(vector.file)), {
            keys: keys.map(readVectorKey),
          }),
          keys,
        );
      await rm(wrapper.log, { force: true });
      process.env[ZSTD_COMMAND_ENV] = wrapper.path;
      expect(await validate()).toEqual(expectedOutcome(vector));
      // The header and every data member that the read reached, each through its own zstd.
      expect((await wrapper.pids()).length).toBeGreaterThanOrEqual(1);
      await rm(wrapper.log, { force: true });
      process.env[ZSTD_COMMAND_ENV] = NO_ZSTD;
      expect(await validate()).toEqual(expectedOutcome(vector));
      expect(await wrapper.pids()).toEqual([]);
    },
  );

  it('decodes multi-frame, multi-MiB streams to the same bytes with both decoders, lent or copied', async () => {
    const data = payload(3 * 1024 * 1024 + 17);
    // Two frames (a skippable frame between them), the second with a checksum.
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const stream = Buffer.concat([
      zstd(data.subarray(0, 1_000_000), '-1', '--no-check'),
      skippable,
      zstd(data.subarray(1_000_000), '-19', '--check'),
    ]);
    for (const command of [wrapper.path, NO_ZSTD]) {
      process.env[ZSTD_COMMAND_ENV] = command;
      expect((await decodeAll(decompressor('zstd')(chunks(stream), 'header.tar.zst'))).equals(data)).toBe(
        true,
      );
      // Lent chunks are views into a reused buffer: hash each one at once, as the reader does.
      const hash = createHash('sha256');
      for await (const chunk of payloadDecompressor('zstd')(chunks(stream, 65536), 'data/0000.tar.zst'))
        hash.update(chunk);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });

  it('turns corrupt, truncated, empty and foreign data into ERR_ARTIFACT_DECOMPRESSION with both decoders', async () => {
    const data = payload(256 * 1024);
    const good = zstd(data, '-3', '--check');
    const corrupt = Buffer.from(good);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0x55;
    const cases = {
      corrupt,
      truncated: good.subarray(0, good.length - 50),
      empty: Buffer.alloc(0),
      'not zstd': Buffer.from('this is not a zstd stream, only text'.repeat(10)),
      'trailing garbage': Buffer.concat([good, Buffer.from('garbage after the last frame')]),
      // The zstd program decodes gzip and xz frames too; a .zst member holds zstd frames only.
      gzip: gzipSync(data),
      'gzip after a zstd frame': Buffer.concat([good, gzipSync(data)]),
      'xz after a zstd frame': Buffer.concat([good, execFileSync('xz', ['-c', '-1'], { input: data })]),
    };
    for (const command of [wrapper.path, NO_ZSTD]) {
      process.env[ZSTD_COMMAND_ENV] = command;
      for (const [what, input] of Object.entries(cases)) {
        const err = await decodeAll(decompressor('zstd')(chunks(input), 'data/0000.tar.zst')).catch(
          (e: unknown) => e,
        );
        expect(err, `${what} via ${command}`).toBeInstanceOf(ArtifactError);
        expect((err as ArtifactError).code, `${what} via ${command}`).toBe('ERR_ARTIFACT_DECOMPRESSION');
        expect((err as ArtifactError).member).toBe('data/0000.tar.zst');
      }
    }
    expect(await zstdChildren()).toEqual([]);
  });

  it('walks frame and block boundaries however the stream is cut, and stops at the first foreign frame', () => {
    const data = payload(600 * 1024);
    const skippable = Buffer.alloc(8 + 3);
    skippable.writeUInt32LE(0x184d2a5f, 0);
    skippable.writeUInt32LE(3, 4);
    // Frames with and without checksum, content size, window descriptor; raw, RLE and compressed blocks.
    const stream = Buffer.concat([
      zstd(data, '-1', '--no-check'),
      skippable,
      zstd(data.subarray(0, 1000), '-19', '--check'),
      zstd(Buffer.alloc(300_000), '-3'),
      zstdRawFrame(data.subarray(0, 5000), 20),
    ]);
    for (const size of [1, 3, 4096]) {
      const check = new ZstdFrameCheck('data/0000.tar.zst');
      for (let off = 0; off < stream.length; off += size) check.feed(stream.subarray(off, off + size));
    }
    const check = new ZstdFrameCheck('data/0000.tar.zst');
    const gz = gzipSync(data);
    const err = (() => {
      try {
        for (const byte of Buffer.concat([stream, gz])) check.feed(Uint8Array.of(byte));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_DECOMPRESSION');
    expect((err as ArtifactError).message).toMatch(/not a zstd frame/);
  });

  it('refuses a frame whose window is over the limit with both decoders, and accepts one at the limit', async () => {
    const content = payload(4096);
    for (const command of [wrapper.path, NO_ZSTD]) {
      process.env[ZSTD_COMMAND_ENV] = command;
      const err = await decodeAll(
        decompressor('zstd')(chunks(zstdRawFrame(content, MAX_ZSTD_WINDOW_LOG + 1)), 'data/0000.tar.zst'),
      ).catch((e: unknown) => e);
      expect(err, command).toBeInstanceOf(ArtifactError);
      expect((err as ArtifactError).code, command).toBe('ERR_ARTIFACT_TOO_LARGE');
      const atLimit = zstdRawFrame(content, MAX_ZSTD_WINDOW_LOG);
      expect(
        (await decodeAll(decompressor('zstd')(chunks(atLimit), 'data/0000.tar.zst'))).equals(content),
      ).toBe(true);
    }
    expect(await zstdChildren()).toEqual([]);
  });

  it('fails the read with ERR_ARTIFACT_DECOMPRESSION when zstd is killed mid-stream', async () => {
    const data = payload(2 * 1024 * 1024);
    const stream = zstd(data, '-3');
    await rm(wrapper.log, { force: true });
    process.env[ZSTD_COMMAND_ENV] = wrapper.path;
    let killed = false;
    // Half the stream goes in, then zstd is killed (it cannot have finished: the rest is still to
    // come), then the rest goes in.
    async function* source(): AsyncGenerator<Uint8Array> {
      let sent = 0;
      for await (const chunk of chunks(stream, 16384)) {
        if (!killed && sent >= stream.length / 2) {
          const [pid] = await until(
            () => wrapper.pids(),
            (pids) => pids.length > 0,
          );
          process.kill(pid!, 'SIGKILL');
          killed = true;
        }
        yield chunk;
        sent += chunk.length;
      }
    }
    let decoded = 0;
    const err = await (async () => {
      for await (const chunk of payloadDecompressor('zstd')(source(), 'data/0000.tar.zst'))
        decoded += chunk.length;
    })().catch((e: unknown) => e);
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_DECOMPRESSION');
    expect((err as ArtifactError).message).toMatch(/killed by SIGKILL/);
    expect(decoded).toBeLessThan(data.length);
    expect(await zstdChildren()).toEqual([]);
  });

  it("rethrows the input's own error and stops zstd", async () => {
    const stream = zstd(payload(512 * 1024), '-3');
    const cut = new ArtifactError('ERR_ARTIFACT_TRUNCATED', 'unexpected end of input', {
      member: 'artifact',
    });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* chunks(stream.subarray(0, stream.length >> 1));
      throw cut;
    }
    process.env[ZSTD_COMMAND_ENV] = wrapper.path;
    const err = await decodeAll(payloadDecompressor('zstd')(failing(), 'data/0000.tar.zst')).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(cut);
    expect(await zstdChildren()).toEqual([]);
  });

  it('kills zstd on an abort while its input is stalled and the consumer waits for output', async () => {
    const data = payload(2 * 1024 * 1024);
    const stream = zstd(data, '-3');
    const controller = new AbortController();
    const reason = new Error('stop');
    // Half the stream, then nothing, ever: zstd waits for input, the consumer for output; the
    // abort comes while they wait.
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield* chunks(stream.subarray(0, stream.length >> 1), 16384);
      setTimeout(() => controller.abort(reason), 50);
      await new Promise(() => undefined);
    }
    process.env[ZSTD_COMMAND_ENV] = wrapper.path;
    let decoded = 0;
    const err = await (async () => {
      for await (const chunk of payloadDecompressor('zstd')(
        stalled(),
        'data/0000.tar.zst',
        controller.signal,
      ))
        decoded += chunk.length;
    })().catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(decoded).toBeLessThan(data.length);
    await until(zstdChildren, (pids) => pids.length === 0);
  });

  it('kills zstd and removes its socket directory when the read is aborted mid-payload', async () => {
    const file = join(work, 'abort.mender');
    await writeArtifact(
      {
        type: 'module-image',
        moduleType: 'test-module',
        artifactName: 'abort-zstd',
        deviceTypes: ['test-device'],
        compression: 'zstd',
        tmpDir: work,
        files: [{ name: 'big.bin', content: payload(6 * 1024 * 1024) }],
      },
      file,
    );
    const bytes = await readFile(file);
    const before = await socketDirs('unzstd');
    await rm(wrapper.log, { force: true });
    process.env[ZSTD_COMMAND_ENV] = wrapper.path;
    const controller = new AbortController();
    const reason = new Error('stop');
    let running: number[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < bytes.length; off += 16384) {
        // Once the data member's zstd runs (the header's has exited), abort; before the last
        // chunk at the latest, so that the payload is never complete.
        if (off + 16384 >= bytes.length || (await wrapper.pids()).length === 2) {
          await until(
            () => wrapper.pids(),
            (pids) => pids.length === 2,
          );
          running = await zstdChildren();
          controller.abort(reason);
          await new Promise(() => undefined);
        }
        yield bytes.subarray(off, off + 16384);
      }
    }
    await expect(readArtifact(source(), { signal: controller.signal })).rejects.toBe(reason);
    expect(running.length).toBe(1);
    // Killed on the abort although its input is stalled for good (the source never resumes);
    // gone once Node has reaped it.
    await until(zstdChildren, (pids) => pids.length === 0);
    expect(await socketDirs('unzstd')).toEqual(before);
  });
});
