/**
 * The update module v3 file tree: the directory a module gets as its second argument (and working
 * directory), with `version`, `current_*`, `header/` and `tmp/`, plus `stream-next` + `streams/`
 * during a streamed Download, or `files/` when the client stored the payload files itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstallContext } from '../types.js';

/** What the tree's `current_*` files say. */
export interface CurrentArtifact {
  name: string;
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
  return value === undefined ? '' : `${JSON.stringify(value)}\n`;
}

/**
 * Writes the static parts of the file tree (everything but streams and files). Idempotent: the same
 * context writes the same tree, so it can be rebuilt after a restart.
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
  const files: [string, string][] = [
    [join(tree, 'version'), '3\n'],
    [join(tree, 'current_artifact_name'), `${current.name}\n`],
    [join(tree, 'current_artifact_group'), `${current.group ?? ''}\n`],
    [join(tree, 'current_device_type'), `${ctx.deviceType}\n`],
    [join(header, 'artifact_name'), `${ctx.artifactName}\n`],
    [join(header, 'artifact_group'), `${typeof group === 'string' ? group : ''}\n`],
    [join(header, 'payload_type'), `${ctx.payloadType}\n`],
    [join(header, 'header-info'), json(ctx.header.headerInfo)],
    [join(header, 'type-info'), json(ctx.header.typeInfo)],
    [join(header, 'meta-data'), json(ctx.header.metaData)],
  ];
  for (const [path, content] of files) await writeFile(path, content);
}
