import { createPublicKey } from 'node:crypto';
import { access, constants } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import {
  ARTIFACT_COMPRESSION_IDS,
  type ArtifactCompressionId,
  type ArtifactInfo,
  isArtifactCompressionId,
  type OtakitError,
  signArtifact,
  verifyArtifactFile,
  type WriteArtifactOptions,
  type WrittenArtifact,
  writeArtifact,
} from '@otakit/core';
import { type Command, Option } from 'commander';
import { CliError, usageError } from '../shared/errors.js';
import { EXIT, type ExitCode } from '../shared/exit-codes.js';
import { action } from '../shared/failure.js';
import { collect } from '../shared/flags.js';
import { readPublicKeyFile } from '../shared/keys.js';
import { out, printJson } from '../shared/output.js';

/** Error codes that are the caller's fault (exit 1) rather than the artifact's (exit 5). */
const USAGE_CODES = new Set([
  'ERR_ARTIFACT_UNSUPPORTED_KEY',
  'ERR_ARTIFACT_INVALID_KEY',
  'ERR_ARTIFACT_WRITE_OPTIONS',
  'ERR_ARTIFACT_WRITE_PAYLOAD',
  'ERR_ARTIFACT_SIGN_KEY',
  'ERR_ARTIFACT_ALREADY_SIGNED',
]);

/** Write failures that are neither the caller's nor the artifact's: no xz here, or xz failing. */
const WRITE_ENVIRONMENT_CODES: Readonly<Record<string, ExitCode>> = {
  ERR_ARTIFACT_XZ_UNAVAILABLE: EXIT.UNAVAILABLE,
  ERR_ARTIFACT_WRITE_COMPRESS: EXIT.FAILED,
};

/** The artifact commands' exit codes, as mender-artifact: 1 for bad parameters, 5 for an invalid artifact. */
const artifactExitCode = (err: OtakitError): ExitCode =>
  WRITE_ENVIRONMENT_CODES[err.code] ?? (USAGE_CODES.has(err.code) ? EXIT.USAGE : EXIT.INVALID_ARTIFACT);

/** {@link action} with the artifact exit codes. */
const artifactAction = <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
  action(fn, { exitCodeOf: artifactExitCode });

/**
 * The exit code of an unsupported-key failure, as mender-artifact gives it: it loads any ECDSA
 * public key and fails while verifying with a curve other than P-256 (exit 5, the artifact does
 * not validate), but refuses other key types such as Ed25519 when loading them (exit 1).
 */
async function unsupportedKeyExit(err: OtakitError, keyPaths: string[]): Promise<ExitCode | undefined> {
  if (err.code !== 'ERR_ARTIFACT_UNSUPPORTED_KEY' || keyPaths.length === 0) return undefined;
  const types = await Promise.all(
    keyPaths.map(async (p) => {
      try {
        return createPublicKey(await readFile(p)).asymmetricKeyType;
      } catch {
        return undefined;
      }
    }),
  );
  return types.every((t) => t === 'ec') ? EXIT.INVALID_ARTIFACT : undefined;
}

/** {@link action} for `read` and `validate`, whose `-k` keys decide an unsupported key's exit code. */
const verifyingAction = <O extends { key: string[] }>(fn: (file: string, opts: O) => Promise<void>) =>
  action(fn, {
    exitCodeOf: async (err, args) =>
      (await unsupportedKeyExit(err, (args[1] as O).key)) ?? artifactExitCode(err),
  });

async function readUserFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function checkReadable(path: string): Promise<void> {
  try {
    // node:fs's callback, not node:fs/promises: `artifact read|validate` never load that (see
    // tsup.config.ts, lazyBuiltins).
    await new Promise<void>((resolve, reject) => {
      access(path, constants.R_OK, (err) => (err ? reject(err) : resolve()));
    });
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `cannot read artifact ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** Parses `key:value` pairs of `-p`, `-d` and similar flags into own keys. @internal */
export function keyValues(pairs: string[], flag: string): Record<string, string> {
  // Object.fromEntries defines own keys: `-p __proto__:x` is a provide like any other.
  return Object.fromEntries(
    pairs.map((pair) => {
      const i = pair.indexOf(':');
      if (i <= 0) throw usageError(`${flag} expects key:value, got ${JSON.stringify(pair)}`);
      return [pair.slice(0, i), pair.slice(i + 1)];
    }),
  );
}

/**
 * The document `otakit artifact read --json` prints (schema in the CLI README, `## Artifacts`).
 */
export function artifactInfoToJson(info: ArtifactInfo): Record<string, unknown> {
  return {
    format: info.format,
    format_version: info.formatVersion,
    artifact_name: info.artifactName,
    artifact_group: info.artifactGroup,
    device_types: info.deviceTypes,
    provides: info.provides,
    depends: info.depends,
    clears_provides: info.clearsProvides,
    payload_types: info.payloadTypes,
    compression: info.compression,
    signed: info.signed,
    signature_verified: info.signatureVerified,
    augmented: info.augmented,
    scripts: info.scripts,
    files: info.files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
    payloads: info.header.payloads.map((p) => ({
      index: p.index,
      type: p.type,
      type_info: p.typeInfo,
      meta_data: p.metaData,
    })),
  };
}

function list(values: readonly (string | null)[]): string {
  return `[${values.map((v) => v ?? 'null').join(', ')}]`;
}

function describeSignature(info: ArtifactInfo, keysGiven: boolean): string {
  if (!info.signed) return 'no signature';
  if (info.signatureVerified) return 'signed and verified correctly';
  return keysGiven ? 'signed, not verified' : 'signed but no key for verification provided; use -k';
}

/** The human-readable header, laid out like `mender-artifact read`. */
export function formatArtifactInfo(info: ArtifactInfo, keysGiven: boolean): string {
  const lines = [
    'Mender Artifact:',
    `  Name: ${info.artifactName}`,
    `  Format: ${info.format}`,
    `  Version: ${info.formatVersion}`,
    `  Signature: ${describeSignature(info, keysGiven)}`,
    `  Compatible types: ${list(info.deviceTypes)}`,
  ];
  if (info.artifactGroup) lines.push(`  Provides group: ${info.artifactGroup}`);
  const dependsName = info.depends.artifact_name;
  if (dependsName) lines.push(`  Depends on one of artifact(s): ${list([dependsName].flat())}`);
  const dependsGroup = info.depends.artifact_group;
  if (dependsGroup) lines.push(`  Depends on one of group(s): ${list([dependsGroup].flat())}`);
  if (info.augmented) lines.push('  Augmented: yes (augmented parts are not covered by the signature)');
  lines.push(`  Compression: ${info.compression}`);
  if (info.scripts.length === 0) lines.push('  State scripts: []');
  else lines.push('  State scripts:', ...info.scripts.map((s) => `    - ${s}`));
  lines.push('', 'Updates:');
  for (const payload of info.header.payloads) {
    lines.push(`  - Type: ${payload.type ?? 'null (empty payload)'}`);
    const typeInfo = payload.typeInfo;
    for (const [title, key] of [
      ['Provides', 'artifact_provides'],
      ['Depends', 'artifact_depends'],
    ] as const) {
      const record = typeInfo[key] as Record<string, unknown> | undefined;
      if (!record || Object.keys(record).length === 0) continue;
      lines.push(`    ${title}:`);
      for (const [k, v] of Object.entries(record))
        lines.push(`      ${k}: ${Array.isArray(v) ? list(v) : String(v)}`);
    }
    const clears = typeInfo.clears_artifact_provides as string[] | undefined;
    if (clears?.length) lines.push(`    Clears Provides: ${list(clears)}`);
    lines.push(`    Metadata: ${payload.metaData ? JSON.stringify(payload.metaData) : '{}'}`);
    const files = info.files.filter((f) => f.payloadIndex === payload.index);
    if (files.length === 0) lines.push('    Files: []');
    else {
      lines.push('    Files:');
      for (const f of files) {
        lines.push(`      - checksum: ${f.sha256}`, `        name: ${f.name}`, `        size: ${f.size}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

async function loadKeys(paths: string[]): Promise<string[]> {
  return Promise.all(paths.map((p) => readPublicKeyFile(p, '-k')));
}

async function readArtifactFile(file: string, keyPaths: string[]): Promise<ArtifactInfo> {
  const trustedKeys = await loadKeys(keyPaths);
  await checkReadable(file);
  return verifyArtifactFile(file, { trustedKeys });
}

interface WriteFlags {
  artifactName?: string;
  deviceType?: string[];
  type?: string;
  file?: string[];
  outputPath: string;
  key?: string;
  provides?: string[];
  depends?: string[];
  clearsProvides?: string[];
  providesGroup?: string;
  artifactNameDepends?: string[];
  dependsGroups?: string[];
  metaData?: string;
  script?: string[];
  compression: string;
  softwareName?: string;
  softwareVersion?: string;
  softwareFilesystem?: string;
  defaultSoftwareVersion: boolean;
  defaultClearsProvides: boolean;
  checksumProvide: boolean;
  legacyRootfsImageChecksum?: boolean;
}

async function writeCommand(imageType: string, flags: WriteFlags): Promise<WrittenArtifact> {
  if (imageType !== 'rootfs-image' && imageType !== 'module-image') {
    throw usageError(`unknown artifact type ${imageType}; use rootfs-image or module-image`);
  }
  if (!flags.artifactName) throw usageError('-n/--artifact-name is required');
  if (!flags.deviceType?.length) throw usageError('at least one -t/--device-type is required');
  if (imageType === 'module-image' && !flags.type) {
    throw usageError('-T/--type (the update module name) is required for module-image');
  }
  if (!isArtifactCompressionId(flags.compression)) {
    throw usageError(
      `unknown compression ${flags.compression}; use one of ${ARTIFACT_COMPRESSION_IDS.join(', ')}`,
    );
  }
  const options: WriteArtifactOptions = {
    type: imageType,
    artifactName: flags.artifactName,
    deviceTypes: flags.deviceType,
    files: flags.file ?? [],
    scripts: flags.script ?? [],
    compression: flags.compression as ArtifactCompressionId,
    provides: keyValues(flags.provides ?? [], '-p/--provides'),
    depends: keyValues(flags.depends ?? [], '-d/--depends'),
    clearsProvides: flags.clearsProvides ?? [],
    artifactNameDepends: flags.artifactNameDepends ?? [],
    artifactGroupDepends: flags.dependsGroups ?? [],
    noDefaultSoftwareVersion: !flags.defaultSoftwareVersion,
    noDefaultClearsProvides: !flags.defaultClearsProvides,
    noChecksumProvide: !flags.checksumProvide,
    legacyRootfsImageChecksum: flags.legacyRootfsImageChecksum ?? false,
  };
  if (flags.type) options.moduleType = flags.type;
  if (flags.providesGroup) options.artifactGroup = flags.providesGroup;
  if (flags.softwareName) options.softwareName = flags.softwareName;
  if (flags.softwareVersion) options.softwareVersion = flags.softwareVersion;
  if (flags.softwareFilesystem) options.softwareFilesystem = flags.softwareFilesystem;
  if (flags.key) options.signingKey = await readUserFile(flags.key, 'key file');
  if (flags.metaData) {
    const text = (await readUserFile(flags.metaData, 'meta-data file')).toString('utf8');
    try {
      options.metaData = JSON.parse(text) as Record<string, unknown>;
    } catch (cause) {
      throw new CliError('ERR_CLI_USAGE', `meta-data file ${flags.metaData} is not valid JSON`, { cause });
    }
  }
  return writeArtifact(options, flags.outputPath);
}

/** Registers `otakit artifact read|validate|write|sign`. */
export function register(program: Command): void {
  const artifact = program
    .command('artifact')
    .description('read, validate, write and sign Mender Artifacts (flags as in mender-artifact)');

  artifact
    .command('read')
    .description('print the header of an artifact after verifying its checksums')
    .argument('<file>', 'the .mender file')
    .option('--json', 'print one JSON document (schema in the README)')
    .option('-k, --key <pubkey>', 'verify the signature with this public key (repeatable)', collect, [])
    .action(
      verifyingAction(async (file: string, opts: { json?: boolean; key: string[] }) => {
        const info = await readArtifactFile(file, opts.key);
        if (opts.json) printJson(artifactInfoToJson(info));
        else process.stdout.write(formatArtifactInfo(info, opts.key.length > 0));
      }),
    );

  artifact
    .command('validate')
    .description('exit 0 when the artifact is valid (and, with -k, signed by one of the keys)')
    .argument('<file>', 'the .mender file')
    .option(
      '-k, --key <pubkey>',
      'a trusted public key (repeatable); the artifact must be signed by one',
      collect,
      [],
    )
    .option('--json', 'print {file, valid, signed, signature_verified}')
    .action(
      verifyingAction(async (file: string, opts: { key: string[]; json?: boolean }) => {
        const info = await readArtifactFile(file, opts.key);
        if (opts.json) {
          printJson({ file, valid: true, signed: info.signed, signature_verified: info.signatureVerified });
          return;
        }
        const note = info.signed && !info.signatureVerified ? ' (signature not verified: no key given)' : '';
        out(`Artifact file '${file}' validated successfully${note}`);
      }),
    );

  artifact
    .command('write')
    .description('write a rootfs-image or module-image artifact')
    .argument('<type>', 'rootfs-image or module-image')
    .option('-n, --artifact-name <name>', 'name of the artifact')
    .option('-t, --device-type <type>', 'compatible device type (repeatable)', collect)
    .addOption(new Option('-c, --compatible-types <type>', 'alias of -t').argParser(collect).hideHelp())
    .option('-T, --type <module>', 'update module type (module-image)')
    .option('-f, --file <path>', 'payload file (repeatable)', collect)
    .option('-o, --output-path <path>', 'where to write the artifact', 'artifact.mender')
    .option('-k, --key <privkey>', 'sign with this private key (RSA or ECDSA P-256 PEM)')
    .option('-p, --provides <key:value>', 'payload provides (repeatable)', collect)
    .option('-d, --depends <key:value>', 'payload depends (repeatable)', collect)
    .option('--clears-provides <pattern>', 'provides the install clears (repeatable)', collect)
    .option('-g, --provides-group <group>', 'artifact group this artifact provides')
    .option('-N, --artifact-name-depends <name>', 'artifact name this depends on (repeatable)', collect)
    .option('-G, --depends-groups <group>', 'artifact group this depends on (repeatable)', collect)
    .option('-m, --meta-data <file>', 'JSON meta-data file (module-image)')
    .option('-s, --script <path>', 'state script (repeatable)', collect)
    .option('--compression <id>', `one of ${ARTIFACT_COMPRESSION_IDS.join(', ')}`, 'gzip')
    .option('--software-name <name>', 'name in the software version provide')
    .option('--software-version <version>', 'value of the software version provide (default: artifact name)')
    .option(
      '--software-filesystem <fs>',
      'filesystem in the software version provide (default: rootfs-image)',
    )
    .option('--no-default-software-version', 'do not add the software version provide')
    .option('--no-default-clears-provides', 'do not add the default clears_artifact_provides')
    .option('--no-checksum-provide', 'rootfs-image: do not provide rootfs-image.checksum')
    .option('--legacy-rootfs-image-checksum', 'rootfs-image: provide rootfs_image_checksum instead')
    .option('--json', 'print {path, bytes, files, compression, signed}')
    .action(
      artifactAction(
        async (type: string, opts: WriteFlags & { compatibleTypes?: string[]; json?: boolean }) => {
          const flags: WriteFlags = {
            ...opts,
            deviceType: [...(opts.deviceType ?? []), ...(opts.compatibleTypes ?? [])],
          };
          const written = await writeCommand(type, flags);
          if (opts.json) {
            printJson({
              path: flags.outputPath,
              bytes: written.bytes,
              files: written.files.length,
              compression: written.compression,
              signed: written.signed,
            });
          } else {
            out(
              `Artifact ${flags.outputPath} written (${written.bytes} bytes, ${written.files.length} file(s), ${written.compression}${written.signed ? ', signed' : ''})`,
            );
          }
        },
      ),
    );

  artifact
    .command('sign')
    .description('sign an existing artifact without rewriting its payloads')
    .argument('<file>', 'the .mender file')
    .requiredOption('-k, --key <privkey>', 'private key (RSA or ECDSA P-256 PEM)')
    .option('-o, --output-path <path>', 'where to write the signed artifact (default: in place)')
    .option('-f, --force', 'replace an existing signature')
    .option('--json', 'print {path, signed}')
    .action(
      artifactAction(
        async (file: string, opts: { key: string; outputPath?: string; force?: boolean; json?: boolean }) => {
          const key = await readUserFile(opts.key, 'key file');
          await checkReadable(file);
          const target = opts.outputPath ?? `${file}.otakit-sign.tmp`;
          await signArtifact(file, target, key, { force: opts.force ?? false });
          if (opts.outputPath === undefined) await rename(target, file);
          if (opts.json) printJson({ path: opts.outputPath ?? file, signed: true });
          else out(`Artifact ${opts.outputPath ?? file} signed`);
        },
      ),
    );
}
