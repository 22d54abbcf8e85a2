import { ArtifactError } from './errors.js';
import { parseJson } from './header.js';

/** The content of the `version` member. */
export interface ArtifactVersion {
  /** Always `mender`. */
  format: 'mender';
  /** 2 or 3. */
  version: 2 | 3;
}

/**
 * Parses the `version` member: a JSON object with exactly `format` (must be `mender`, as the
 * Mender client requires) and `version` (2 or 3).
 *
 * @throws {ArtifactError} `ERR_ARTIFACT_INVALID_JSON` or `ERR_ARTIFACT_UNSUPPORTED_VERSION`
 */
export function parseVersion(raw: Uint8Array): ArtifactVersion {
  const value = parseJson(raw, 'version');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_VERSION', 'version must be a JSON object', {
      member: 'version',
    });
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (key !== 'format' && key !== 'version') {
      throw new ArtifactError('ERR_ARTIFACT_UNSUPPORTED_VERSION', `unknown field ${JSON.stringify(key)}`, {
        member: 'version',
      });
    }
  }
  if (v.format !== 'mender') {
    throw new ArtifactError(
      'ERR_ARTIFACT_UNSUPPORTED_VERSION',
      `format ${JSON.stringify(v.format)} is not mender`,
      {
        member: 'version',
      },
    );
  }
  if (v.version !== 2 && v.version !== 3) {
    throw new ArtifactError(
      'ERR_ARTIFACT_UNSUPPORTED_VERSION',
      `unsupported version ${JSON.stringify(v.version)}`,
      {
        member: 'version',
      },
    );
  }
  return { format: v.format, version: v.version };
}
