/**
 * The update module v3 file tree: the directory a module gets as its second argument (and working
 * directory), with `version`, `current_*`, `header/` and `tmp/`, plus `stream-next` + `streams/`
 * during a streamed Download, or `files/` when the client stored the payload files itself.
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from '@otakit/core';
import type { InstallContext } from '../types.js';

/** What the tree's `current_*` files say. */
export interface CurrentArtifact {
  /** The installed artifact's name (`current_artifact_name`); empty when unknown. */
  name: string;
  /** Its group (`current_artifact_group`), if any. */
  group?: string;
}

function field(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function json(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

/**
 * Writes the static parts of the file tree (everything but streams and files), as the Mender client
 * does: `version` and the `current_*` values end with a newline (an absent value is an empty file),
 * the `header/` files hold the bare values and the JSON headers. Everything is fsynced, so a tree
 * is never half there after a power cut. Idempotent: the same context writes the same tree, so it
 * can be rebuilt after a restart.
 */
export async function writeFileTree(
  tree: string,
  ctx: InstallContext,
  current: CurrentArtifact,
): Promise<void> {
  const header = join(tree, 'header');
  await mkdir(header, { recursive: true });
  await mkdir(join(tree, 'tmp'), { recursive: true });
  const group = field(ctx.header.headerInfo, 'artifact_provides', 'artifact_group');
  const line = (value: string | undefined) => (value === undefined || value === '' ? '' : `${value}\n`);
  const files: [string, string][] = [
    [join(tree, 'version'), '3\n'],
    [join(tree, 'current_artifact_name'), line(current.name)],
    [join(tree, 'current_artifact_group'), line(current.group)],
    [join(tree, 'current_device_type'), line(ctx.deviceType)],
    [join(header, 'artifact_name'), ctx.artifactName],
    [join(header, 'artifact_group'), typeof group === 'string' ? group : ''],
    [join(header, 'payload_type'), ctx.payloadType],
    [join(header, 'header-info'), json(ctx.header.headerInfo)],
    [join(header, 'type-info'), json(ctx.header.typeInfo)],
    [join(header, 'meta-data'), json(ctx.header.metaData)],
  ];
  for (const [path, content] of files) {
    const fh = await open(path, 'w', 0o644);
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  await fsyncDir(header);
  await fsyncDir(tree);
}
