/**
 * `otakit artifact` against the shared vectors (validate with and without keys, read --json) and
 * the writer/signer commands, run in-process through main(argv); one test spawns the built bin.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  expectedOutcome,
  loadVectorManifest,
  type VectorRecord,
  vectorPath,
  verifyWordOfCode,
} from '@otakit/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keyValues } from '../src/commands/artifact.js';
import { type Run, run } from './helpers.js';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vectors = loadVectorManifest();

afterEach(() => {
  process.exitCode = undefined;
});

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'otakit-cli-artifact-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function expectUserError(result: Run, code?: string): void {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/^otakit: ERR_[A-Z_]+: /);
  if (code) expect(result.stderr).toContain(`otakit: ${code}: `);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

/** The `clears_provides` a reader reports for a vector: all clears of its type-info documents. */
function clearsOf(vector: VectorRecord): string[] {
  return (vector.details?.type_info ?? []).flatMap(
    (t) => (t.clears_artifact_provides as string[] | undefined) ?? [],
  );
}

describe('otakit artifact validate on the shared vectors', () => {
  describe.each(vectors.map((v) => [v.file, v] as const))('%s', (_file, vector) => {
    const expected = expectedOutcome(vector);
    const structurallyOk = expected.parse === 'ok' && expected.checksum === 'ok';

    it('without a key: exit 0 exactly when parse and checksums are ok', async () => {
      const result = await run('artifact', 'validate', vectorPath(vector.file));
      if (structurallyOk) {
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout).toContain('validated successfully');
      } else {
        expectUserError(
          result,
          expected.checksum === 'mismatch' ? 'ERR_ARTIFACT_CHECKSUM_MISMATCH' : undefined,
        );
        expect(result.code).toBe(5);
      }
    });

    it.each(Object.keys(expected.verifyWith))('with -k %s: the expected verify outcome', async (key) => {
      const result = await run('artifact', 'validate', vectorPath(vector.file), '-k', vectorPath(key));
      const word = expected.verifyWith[key]!;
      if (structurallyOk && word === 'ok') {
        expect(result.code, result.stderr).toBe(0);
        return;
      }
      expectUserError(result);
      const code = /otakit: (ERR_[A-Z_]+):/.exec(result.stderr)![1]!;
      if (structurallyOk) {
        // Only the signature can be wrong: the error code names exactly that outcome.
        expect(verifyWordOfCode(code)).toBe(word);
        // The real tool's exit code: 5 for an ECDSA key of another curve (P-384), 1 for a key
        // type it cannot load (Ed25519).
        const real = (vector as { mender_artifact_result?: { validate_exit?: Record<string, number> } })
          .mender_artifact_result?.validate_exit?.[key];
        expect(result.code).toBe(word === 'unsupported-key' ? real : 5);
      } else if (word === 'ok') {
        // Good signature, broken artifact: the failure is not about the signature.
        expect(verifyWordOfCode(code)).toBeUndefined();
      }
    });
  });
});

describe('otakit artifact read --json on the valid vectors', () => {
  const valid = vectors.filter((v) => v.kind === 'valid');
  it.each(valid.map((v) => [v.file, v] as const))('%s matches manifest.json', async (_file, vector) => {
    const result = await run('artifact', 'read', '--json', vectorPath(vector.file));
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as Record<string, unknown>;
    const headerInfo = vector.details?.header_info as
      | { artifact_provides?: { artifact_group?: string } }
      | undefined;
    expect(doc).toMatchObject({
      format_version: vector.format_version,
      artifact_name: vector.artifact_name,
      artifact_group: headerInfo?.artifact_provides?.artifact_group ?? null,
      device_types: vector.device_types,
      provides: vector.provides,
      depends: vector.depends,
      clears_provides: clearsOf(vector),
      payload_types: vector.payload_types,
      compression: vector.compression,
      signed: vector.signed_with !== null || vector.details?.signed === true,
      signature_verified: false,
      scripts: vector.details?.scripts ?? [],
      files: (vector.details?.data_files ?? []).map((f) => ({
        name: f.name,
        size: f.size,
        sha256: f.sha256,
      })),
    });
  });

  it('prints the header as text without --json', async () => {
    const result = await run('artifact', 'read', vectorPath('rootfs-all-options-rsa2048.mender'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Name: shared-rootfs-5');
    expect(result.stdout).toContain('Compatible types: [raspberrypi4, raspberrypi5, rpi-cm4]');
    expect(result.stdout).toContain('Provides group: stable');
    expect(result.stdout).toContain('- ArtifactCommit_Enter_05_verify-health');
    expect(result.stdout).toContain('rootfs-image.os.version: 1.2.3');
  });

  it('verifies with -k and reports it', async () => {
    const result = await run(
      'artifact',
      'read',
      '--json',
      vectorPath('module-small-ecdsa256.mender'),
      '-k',
      vectorPath('../keys/ecdsa-p256.pub'),
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ signed: true, signature_verified: true });
  });

  it('fails with the error code for an invalid artifact', async () => {
    const result = await run('artifact', 'read', vectorPath('path-traversal-data-entry.mender'));
    expectUserError(result);
  });
});

describe('otakit artifact write and sign', () => {
  it('parses -p keys __proto__, constructor and prototype as ordinary provides', () => {
    const provides = keyValues(['__proto__:evil', 'constructor:x', 'prototype:p'], '-p');
    expect(Object.entries(provides)).toEqual([
      ['__proto__', 'evil'],
      ['constructor', 'x'],
      ['prototype', 'p'],
    ]);
    expect(Object.getPrototypeOf(provides)).toBe(Object.prototype);
  });

  it('writes a module-image with every flag, which validates and reads back', async () => {
    await writeFile(join(work, 'app.bin'), Buffer.alloc(50_000, 7));
    await writeFile(join(work, 'dest_dir'), '/opt/app\n');
    await writeFile(join(work, 'meta.json'), '{"b":[1,"x"],"a":true}');
    await writeFile(join(work, 'ArtifactInstall_Enter_00_prep'), '#!/bin/sh\n', { mode: 0o755 });
    const out = join(work, 'module.mender');
    const written = await run(
      'artifact',
      'write',
      'module-image',
      '-n',
      'cli-app-1',
      '-t',
      'board-a',
      '-t',
      'board-b',
      '-T',
      'single-file',
      '-f',
      join(work, 'app.bin'),
      '-f',
      join(work, 'dest_dir'),
      '-o',
      out,
      '-k',
      vectorPath('../keys/ecdsa-p256.key'),
      '-p',
      'app.channel:beta',
      '-d',
      'app.base:1.0',
      '--clears-provides',
      'app.*',
      '-g',
      'field',
      '-N',
      'cli-app-0',
      '-G',
      'field',
      '-m',
      join(work, 'meta.json'),
      '-s',
      join(work, 'ArtifactInstall_Enter_00_prep'),
      '--compression',
      'zstd_best',
    );
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toContain(out);

    const ok = await run('artifact', 'validate', out, '-k', vectorPath('../keys/ecdsa-p256.pub'));
    expect(ok.code, ok.stderr).toBe(0);
    const wrongKey = await run('artifact', 'validate', out, '-k', vectorPath('../keys/rsa2048.pub'));
    expectUserError(wrongKey, 'ERR_ARTIFACT_BAD_SIGNATURE');

    const read = await run('artifact', 'read', '--json', out);
    expect(JSON.parse(read.stdout)).toMatchObject({
      artifact_name: 'cli-app-1',
      artifact_group: 'field',
      device_types: ['board-a', 'board-b'],
      provides: {
        artifact_name: 'cli-app-1',
        artifact_group: 'field',
        'app.channel': 'beta',
        'rootfs-image.single-file.version': 'cli-app-1',
      },
      depends: {
        artifact_name: ['cli-app-0'],
        device_type: ['board-a', 'board-b'],
        artifact_group: ['field'],
        'app.base': '1.0',
      },
      clears_provides: ['app.*', 'rootfs-image.single-file.*'],
      payload_types: ['single-file'],
      compression: 'zstd',
      signed: true,
      scripts: ['ArtifactInstall_Enter_00_prep'],
      files: [
        { name: 'app.bin', size: 50_000 },
        { name: 'dest_dir', size: 9 },
      ],
      payloads: [{ meta_data: { a: true, b: [1, 'x'] } }],
    });
  });

  it('writes a rootfs-image with the default gzip compression and checksum provide', async () => {
    await writeFile(join(work, 'rootfs.ext4'), Buffer.alloc(100_000, 1));
    const out = join(work, 'rootfs.mender');
    const written = await run(
      'artifact',
      'write',
      'rootfs-image',
      '-n',
      'rootfs-1',
      '-t',
      'qemux86-64',
      '-f',
      join(work, 'rootfs.ext4'),
      '-o',
      out,
    );
    expect(written.code, written.stderr).toBe(0);
    const doc = JSON.parse((await run('artifact', 'read', '--json', out)).stdout) as {
      compression: string;
      provides: Record<string, string>;
    };
    expect(doc.compression).toBe('gzip');
    expect(Object.keys(doc.provides).sort()).toEqual([
      'artifact_name',
      'rootfs-image.checksum',
      'rootfs-image.version',
    ]);
  });

  it('refuses bad flags with an error code and no stack trace', async () => {
    const cases: [string[], string][] = [
      [
        ['artifact', 'write', 'module-image', '-t', 'd', '-T', 'm', '-o', join(work, 'x.mender')],
        'ERR_CLI_USAGE',
      ],
      [
        ['artifact', 'write', 'module-image', '-n', 'a', '-T', 'm', '-o', join(work, 'x.mender')],
        'ERR_CLI_USAGE',
      ],
      [
        ['artifact', 'write', 'module-image', '-n', 'a', '-t', 'd', '-o', join(work, 'x.mender')],
        'ERR_CLI_USAGE',
      ],
      [['artifact', 'write', 'bootstrap-artifact', '-n', 'a', '-t', 'd'], 'ERR_CLI_USAGE'],
      [
        ['artifact', 'write', 'module-image', '-n', 'a', '-t', 'd', '-T', 'm', '--compression', 'bz2'],
        'ERR_CLI_USAGE',
      ],
      [
        ['artifact', 'write', 'module-image', '-n', 'a', '-t', 'd', '-T', 'm', '-p', 'novalue'],
        'ERR_CLI_USAGE',
      ],
      [
        [
          'artifact',
          'write',
          'module-image',
          '-n',
          'a b',
          '-t',
          'd',
          '-T',
          'm',
          '-o',
          join(work, 'x.mender'),
        ],
        'ERR_ARTIFACT_WRITE_OPTIONS',
      ],
      [
        ['artifact', 'write', 'module-image', '-n', 'a', '-t', 'd', '-T', 'm', '-f', join(work, 'missing')],
        'ERR_ARTIFACT_WRITE_PAYLOAD',
      ],
      [
        [
          'artifact',
          'write',
          'module-image',
          '-n',
          'a',
          '-t',
          'd',
          '-T',
          'm',
          '-k',
          vectorPath('../keys/ed25519.key'),
          '-o',
          join(work, 'x.mender'),
        ],
        'ERR_ARTIFACT_SIGN_KEY',
      ],
      [['artifact', 'validate', join(work, 'missing.mender')], 'ERR_CLI_FILE'],
      [
        ['artifact', 'validate', vectorPath('module-small-rsa2048.mender'), '-k', join(work, 'missing.pub')],
        'ERR_CLI_FILE',
      ],
      [
        [
          'artifact',
          'sign',
          vectorPath('module-small-rsa2048.mender'),
          '-k',
          vectorPath('../keys/rsa2048.key'),
          '-o',
          join(work, 'x.mender'),
        ],
        'ERR_ARTIFACT_ALREADY_SIGNED',
      ],
    ];
    // Usage errors commander detects itself carry a code too.
    cases.push([['artifact', 'sign', vectorPath('module-small-unsigned.mender')], 'ERR_CLI_USAGE']);
    cases.push([
      ['artifact', 'validate', vectorPath('module-small-unsigned.mender'), '--bogus'],
      'ERR_CLI_USAGE',
    ]);
    for (const [argv, code] of cases) {
      const result = await run(...argv);
      expectUserError(result, code);
      expect(result.code, argv.join(' ')).toBe(1);
    }
    expect(existsSync(join(work, 'x.mender'))).toBe(false);
  });

  it('signs an unsigned vector in place and to another file; -f replaces a signature', async () => {
    const copy = join(work, 'to-sign.mender');
    await copyFile(vectorPath('module-small-unsigned.mender'), copy);
    const inPlace = await run('artifact', 'sign', copy, '-k', vectorPath('../keys/rsa3072.key'));
    expect(inPlace.code, inPlace.stderr).toBe(0);
    expect((await run('artifact', 'validate', copy, '-k', vectorPath('../keys/rsa3072.pub'))).code).toBe(0);

    const other = join(work, 'resigned.mender');
    const again = await run(
      'artifact',
      'sign',
      copy,
      '-k',
      vectorPath('../keys/ecdsa-p256.key'),
      '-o',
      other,
      '-f',
    );
    expect(again.code, again.stderr).toBe(0);
    expect((await run('artifact', 'validate', other, '-k', vectorPath('../keys/ecdsa-p256.pub'))).code).toBe(
      0,
    );
    expectUserError(
      await run('artifact', 'validate', other, '-k', vectorPath('../keys/rsa3072.pub')),
      'ERR_ARTIFACT_BAD_SIGNATURE',
    );
  });
});

describe('the built otakit bin', () => {
  it('validates a vector and fails another as a real process', async () => {
    const bin = join(cliRoot, 'bin', 'otakit.cjs');
    const ok = spawnSync(
      process.execPath,
      [
        bin,
        'artifact',
        'validate',
        vectorPath('module-small-rsa2048.mender'),
        '-k',
        vectorPath('../keys/rsa2048.pub'),
      ],
      { encoding: 'utf8' },
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('validated successfully');
    const bad = spawnSync(
      process.execPath,
      [bin, 'artifact', 'validate', vectorPath('tampered-header-byte.mender')],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(5);
    expect(bad.stderr).toContain('ERR_ARTIFACT_CHECKSUM_MISMATCH');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const json = spawnSync(
      process.execPath,
      [bin, 'artifact', 'read', '--json', vectorPath('compress-lzma.mender')],
      { encoding: 'utf8' },
    );
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ artifact_name: 'shared-comp-lzma', compression: 'lzma' });
  });
});
