import { createReadStream } from 'node:fs';
import { ArtifactError, readArtifact, validateArtifact } from '@otakit/core';
import {
  expectedOutcome,
  loadVectorManifest,
  outcomeOfValidation,
  parseWordsOfCode,
  readVectorKey,
  type VectorRecord,
  vectorPath,
  verifyWordOfCode,
} from '@otakit/test-support';
import { describe, expect, it } from 'vitest';

const vectors = loadVectorManifest();

function open(vector: VectorRecord) {
  return createReadStream(vectorPath(vector.file));
}

describe('shared artifact vectors', () => {
  it('has the vectors the README describes', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(65);
  });

  describe.each(vectors.map((v) => [v.file, v] as const))('%s', (_file, vector) => {
    const keys = Object.keys(vector.expected.verify_with);

    it('gives exactly the expected parse, checksum and verify_with outcomes', async () => {
      const validation = await validateArtifact(open(vector), { keys: keys.map(readVectorKey) });
      expect(outcomeOfValidation(validation, keys)).toEqual(expectedOutcome(vector));
    });

    it('strict readArtifact without keys accepts or rejects with a code matching parse/checksum', async () => {
      const expected = expectedOutcome(vector);
      const result = await readArtifact(open(vector)).then(
        (info) => ({ info }),
        (error: unknown) => ({ error }),
      );
      if ('info' in result) {
        expect({ parse: expected.parse, checksum: expected.checksum }).toEqual({
          parse: 'ok',
          checksum: 'ok',
        });
        expect(result.info.signed).toBe(vector.signed_with !== null || vector.details?.signed === true);
        expect(result.info.signatureVerified).toBe(false);
      } else {
        expect(result.error).toBeInstanceOf(ArtifactError);
        const code = (result.error as ArtifactError).code;
        expect(parseWordsOfCode(code)).toEqual({ parse: expected.parse, checksum: expected.checksum });
      }
    });

    it.each(keys)('strict readArtifact with trusted key %s agrees with verify_with', async (key) => {
      const expected = expectedOutcome(vector);
      const word = expected.verifyWith[key]!;
      const result = await readArtifact(open(vector), { trustedKeys: [readVectorKey(key)] }).then(
        (info) => ({ info }),
        (error: unknown) => ({ error }),
      );
      if (word === 'bad-signature' || word === 'missing-signature' || word === 'unsupported-key') {
        expect('error' in result && verifyWordOfCode((result.error as ArtifactError).code)).toBe(word);
      } else if (word === 'ok' && expected.parse === 'ok' && expected.checksum === 'ok') {
        expect('info' in result && result.info.signatureVerified).toBe(true);
      } else {
        // The signature is fine (or cannot be reached): the rejection is about the structure or a digest.
        expect('error' in result).toBe(true);
        const code = (result as { error: ArtifactError }).error.code;
        expect(verifyWordOfCode(code)).toBeUndefined();
        expect(parseWordsOfCode(code)).toEqual({ parse: expected.parse, checksum: expected.checksum });
      }
    });

    if (vector.expected.parse === 'ok' && vector.expected.checksum === 'ok') {
      it('parses the fields manifest.json lists', async () => {
        const info = await readArtifact(open(vector));
        expect(info.formatVersion).toBe(vector.format_version);
        expect(info.artifactName).toBe(vector.artifact_name);
        expect(info.deviceTypes).toEqual(vector.device_types);
        expect(info.provides).toEqual(vector.provides);
        expect(info.depends).toEqual(vector.depends);
        expect(info.payloadTypes).toEqual(vector.payload_types);
        expect(info.compression).toBe(vector.compression);
        expect(info.scripts).toEqual(vector.details?.scripts ?? []);
        expect(info.augmented).toBe(vector.details?.manifest_augment !== undefined);
        expect(info.files.map(({ name, size, sha256 }) => ({ name, size, sha256 }))).toEqual(
          (vector.details?.data_files ?? []).map(({ name, size, sha256 }) => ({ name, size, sha256 })),
        );
        expect(info.header.headerInfo).toEqual(vector.details?.header_info);
        expect(info.header.payloads.map((p) => p.typeInfo)).toEqual(vector.details?.type_info);
      });
    }
  });
});
