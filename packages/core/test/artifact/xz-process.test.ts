/**
 * xz reading through the system `xz` program (a child process), with the WebAssembly decoder as
 * the fallback when no xz can be started: both give every xz vector its expected outcome, corrupt
 * and truncated streams are typed errors, a stream that needs too much decoder memory is refused,
 * and no xz process or socket directory outlives a read that fails or is aborted.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  expectedOutcome,
  loadVectorManifest,
  outcomeOfValidation,
  readVectorKey,
  vectorPath,
} from '@otakit/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { XZ_COMMAND_ENV } from '../../src/artifact/compress-xz.js';
import { decompressor, payloadDecompressor } from '../../src/artifact/decompress.js';
import { ArtifactError } from '../../src/artifact/errors.js';
import { readArtifact } from '../../src/artifact/reader.js';
import { validateArtifact } from '../../src/artifact/validate.js';
import { writeArtifact } from '../../src/artifact/writer.js';
import { MAX_XZ_DECODER_BYTES } from '../../src/artifact/xz-process.js';
import {
  chunks,
  decodeAll,
  type PidLoggingWrapper,
  payload,
  pidLoggingWrapper,
  socketDirs,
  until,
  xzChildren,
} from './decoder-children.js';

const savedXz = process.env[XZ_COMMAND_ENV];
/** A path no xz can be started from: the reader falls back to the WebAssembly decoder. */
const NO_XZ = '/nonexistent/otakit-test/xz';
let work: string;
/** The real xz behind a wrapper that logs the pid of every run. */
let wrapper: PidLoggingWrapper;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-xz-read-test-'));
  wrapper = await pidLoggingWrapper(work, 'xz');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  if (savedXz === undefined) delete process.env[XZ_COMMAND_ENV];
  else process.env[XZ_COMMAND_ENV] = savedXz;
});

const xzVectors = loadVectorManifest().filter((v) => v.file.includes('lzma'));

describe('xz reading', () => {
  it('has xz vectors to check', () => {
    expect(xzVectors.map((v) => v.file).sort()).toEqual([
      'compress-lzma.mender',
      'module-directory-lzma-rsa3072.mender',
      'rootfs-lzma-rsa3072.mender',
    ]);
  });

  it.each(xzVectors.map((v) => [v.file, v] as const))(
    '%s gives its expected outcome through the xz program and through the fallback',
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
      process.env[XZ_COMMAND_ENV] = wrapper.path;
      expect(await validate()).toEqual(expectedOutcome(vector));
      // The header and the data member, each through its own xz.
      expect((await wrapper.pids()).length).toBe(2);
      process.env[XZ_COMMAND_ENV] = NO_XZ;
      expect(await validate()).toEqual(expectedOutcome(vector));
    },
  );

  it('decodes a multi-MiB stream to the same bytes with both decoders, lent or copied', async () => {
    const data = payload(3 * 1024 * 1024 + 17);
    const xz = execFileSync('xz', ['-c', '-1'], { input: data, maxBuffer: 64 << 20 });
    for (const command of [wrapper.path, NO_XZ]) {
      process.env[XZ_COMMAND_ENV] = command;
      expect((await decodeAll(decompressor('lzma')(chunks(xz), 'header.tar.xz'))).equals(data)).toBe(true);
      // Lent chunks are views into a reused buffer: hash each one at once, as the reader does.
      const hash = createHash('sha256');
      for await (const chunk of payloadDecompressor('lzma')(chunks(xz, 65536), 'data/0000.tar.xz'))
        hash.update(chunk);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });

  it('falls back to the WebAssembly decoder when the output socket cannot be made', async () => {
    const data = payload(300 * 1024);
    const xz = execFileSync('xz', ['-c', '-1'], { input: data });
    await rm(wrapper.log, { force: true });
    // The same wrapper under another name: what cannot be used is remembered per command.
    process.env[XZ_COMMAND_ENV] = `${work}/./xz-wrapper.sh`;
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = join(work, 'no-such-dir');
    try {
      expect((await decodeAll(decompressor('lzma')(chunks(xz), 'header.tar.xz'))).equals(data)).toBe(true);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    expect(await wrapper.pids()).toEqual([]);
  });

  it('turns corrupt and truncated xz data into ERR_ARTIFACT_DECOMPRESSION with both decoders', async () => {
    const data = payload(256 * 1024);
    const xz = execFileSync('xz', ['-c', '-1'], { input: data });
    const corrupt = Buffer.from(xz);
    corrupt[Math.floor(corrupt.length / 2)]! ^= 0x55;
    const cases = {
      corrupt,
      truncated: xz.subarray(0, xz.length - 50),
      'not xz': Buffer.from('this is not an xz stream, only text'.repeat(10)),
    };
    for (const command of [wrapper.path, NO_XZ]) {
      process.env[XZ_COMMAND_ENV] = command;
      for (const [what, input] of Object.entries(cases)) {
        const err = await decodeAll(decompressor('lzma')(chunks(input), 'data/0000.tar.xz')).catch(
          (e: unknown) => e,
        );
        expect(err, `${what} via ${command}`).toBeInstanceOf(ArtifactError);
        expect((err as ArtifactError).code, `${what} via ${command}`).toBe('ERR_ARTIFACT_DECOMPRESSION');
        expect((err as ArtifactError).member).toBe('data/0000.tar.xz');
      }
    }
    expect(await xzChildren()).toEqual([]);
  });

  it('refuses a stream whose dictionary needs more than the decoder memory limit', async () => {
    const xz = Buffer.from(execFileSync('xz', ['-c', '-1', '--threads=1'], { input: payload(64 * 1024) }));
    // Block header after the 12-byte stream header: size, flags 0 (one filter, no sizes), LZMA2
    // filter id 0x21, 1 property byte (the dictionary size), padding, CRC32.
    const headerSize = (xz[12]! + 1) * 4;
    expect([xz[13], xz[14], xz[15]]).toEqual([0x00, 0x21, 0x01]);
    // Property 32: a 256 MiB dictionary (the data still decodes with any larger dictionary).
    xz[16] = 32;
    xz.writeUInt32LE(crc32(xz.subarray(12, 12 + headerSize - 4)), 12 + headerSize - 4);
    expect(MAX_XZ_DECODER_BYTES).toBeLessThan(256 * 1024 * 1024);
    process.env[XZ_COMMAND_ENV] = wrapper.path;
    const err = await decodeAll(decompressor('lzma')(chunks(xz), 'data/0000.tar.xz')).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as ArtifactError).code).toBe('ERR_ARTIFACT_TOO_LARGE');
    expect(await xzChildren()).toEqual([]);
  });

  it("rethrows the input's own error and stops xz", async () => {
    const xz = execFileSync('xz', ['-c', '-1'], { input: payload(512 * 1024) });
    const cut = new ArtifactError('ERR_ARTIFACT_TRUNCATED', 'unexpected end of input', {
      member: 'artifact',
    });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* chunks(xz.subarray(0, xz.length >> 1));
      throw cut;
    }
    process.env[XZ_COMMAND_ENV] = wrapper.path;
    const err = await decodeAll(payloadDecompressor('lzma')(failing(), 'data/0000.tar.xz')).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(cut);
    expect(await xzChildren()).toEqual([]);
  });

  it('kills xz and removes its socket directory when the read is aborted mid-payload', async () => {
    const file = join(work, 'abort.mender');
    await writeArtifact(
      {
        type: 'module-image',
        moduleType: 'test-module',
        artifactName: 'abort-xz',
        deviceTypes: ['test-device'],
        compression: 'xz',
        tmpDir: work,
        files: [{ name: 'big.bin', content: payload(6 * 1024 * 1024) }],
      },
      file,
    );
    const bytes = await readFile(file);
    const before = await socketDirs('unxz');
    await rm(wrapper.log, { force: true });
    process.env[XZ_COMMAND_ENV] = wrapper.path;
    const controller = new AbortController();
    const reason = new Error('stop');
    let running: number[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < bytes.length; off += 16384) {
        yield bytes.subarray(off, off + 16384);
        // Once the data member's xz runs (the header's has exited), abort.
        if ((await wrapper.pids()).length === 2) {
          running = await xzChildren();
          controller.abort(reason);
          await new Promise(() => undefined);
        }
      }
    }
    await expect(readArtifact(source(), { signal: controller.signal })).rejects.toBe(reason);
    expect(running.length).toBe(1);
    // Killed on the abort; gone once Node has reaped it (the read may reject before that).
    await until(xzChildren, (pids) => pids.length === 0);
    expect(await socketDirs('unxz')).toEqual(before);
  });
});
