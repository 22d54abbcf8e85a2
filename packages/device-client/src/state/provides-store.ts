import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonFileAtomic } from '@otakit/core';
import { DeviceError, DeviceErrorCodes } from '../errors.js';

/** What the device has installed, as Mender's provides store keeps it. */
export interface InstalledArtifact {
  /** `artifact_name` of the installed artifact (`unknown` on a fresh device). */
  artifactName: string;
  /** `artifact_group`, when the artifact had one. */
  artifactGroup?: string | undefined;
  /** The other `artifact_provides` keys (e.g. `rootfs-image.version`). */
  provides: Record<string, string>;
}

/** What a newly committed artifact brings (from its header). */
export interface CommittedArtifact {
  artifactName: string;
  artifactGroup?: string | undefined;
  /** `artifact_provides` without `artifact_name`/`artifact_group`. */
  provides?: Record<string, string> | undefined;
  /** `clears_artifact_provides`; undefined means Mender's default (`["*"]`). */
  clearsProvides?: string[] | undefined;
}

/**
 * Converts a Mender glob (`*`, `?`, `[...]`, as Go's `filepath.Match`) to a RegExp.
 * @internal
 */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += `\\${glob[++i]}`;
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`${re}$`);
}

/**
 * Applies a committed artifact to the installed provides exactly as the Mender client does
 * (`CommitArtifactData`): keys matching a `clears_artifact_provides` glob are removed (a missing
 * list means `["*"]`), then the new provides are added; name and group are replaced.
 */
export function applyCommittedArtifact(
  current: InstalledArtifact,
  next: CommittedArtifact,
): InstalledArtifact {
  const clears = next.clearsProvides ?? ['*'];
  const patterns = clears.map(globToRegExp);
  // Object.fromEntries defines own properties, so keys such as `__proto__` or `constructor` from
  // an artifact are stored as ordinary keys (an assignment would drop `__proto__`).
  const provides: Record<string, string> = Object.fromEntries([
    ...Object.entries(current.provides).filter(([k]) => !patterns.some((p) => p.test(k))),
    ...Object.entries(next.provides ?? {}).filter(([k]) => k !== 'artifact_name' && k !== 'artifact_group'),
  ]);
  const group =
    next.artifactGroup ??
    (patterns.some((p) => p.test('artifact_group')) ? undefined : current.artifactGroup);
  return { artifactName: next.artifactName, artifactGroup: group, provides };
}

/**
 * The provides store: the installed artifact's name, group and provides, in `dataDir/provides.json`,
 * and the `device_type` file in Mender's format (`device_type=<value>`).
 */
export class ProvidesStore {
  /** The directory of the files (created on the first write). */
  readonly dataDir: string;
  /** Path of the provides JSON file. */
  readonly path: string;
  /** Path of the `device_type` file. */
  readonly deviceTypePath: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.path = join(dataDir, 'provides.json');
    this.deviceTypePath = join(dataDir, 'device_type');
  }

  /** The installed artifact; `{artifactName: 'unknown', provides: {}}` on a fresh device. */
  async read(): Promise<InstalledArtifact> {
    const data = await readJsonFile<InstalledArtifact>(this.path);
    if (!data) return { artifactName: 'unknown', provides: {} };
    if (
      typeof data.artifactName !== 'string' ||
      typeof data.provides !== 'object' ||
      data.provides === null
    ) {
      throw new DeviceError(DeviceErrorCodes.CORRUPT_STATE, `${this.path} is not a provides store`);
    }
    return data;
  }

  /** Replaces the stored data. */
  async write(value: InstalledArtifact): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await writeJsonFileAtomic(this.path, value);
  }

  /** Applies a committed artifact ({@link applyCommittedArtifact}) and stores the result. */
  async commit(next: CommittedArtifact): Promise<InstalledArtifact> {
    const updated = applyCommittedArtifact(await this.read(), next);
    await this.write(updated);
    return updated;
  }

  /**
   * The `device_provides` map of the v2 `next` call: `device_type`, `artifact_name`,
   * `artifact_group` (when set) and the provides.
   */
  async deviceProvides(deviceType: string): Promise<Record<string, string>> {
    const cur = await this.read();
    const out: Record<string, string> = {
      ...cur.provides,
      device_type: deviceType,
      artifact_name: cur.artifactName,
    };
    if (cur.artifactGroup) out.artifact_group = cur.artifactGroup;
    return out;
  }

  /** Writes the `device_type` file (`device_type=<value>\n`). */
  async writeDeviceType(deviceType: string): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await writeFileAtomic(this.deviceTypePath, `device_type=${deviceType}\n`);
  }

  /** Reads the `device_type` file; undefined when absent. Throws on any other content, as Mender does. */
  async readDeviceType(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.deviceTypePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const m = lines.length === 1 ? /^device_type=(.+)$/.exec(lines[0]!.trim()) : null;
    if (!m)
      throw new DeviceError(
        DeviceErrorCodes.CORRUPT_STATE,
        `${this.deviceTypePath}: expected one line device_type=<value>`,
      );
    return m[1]!;
  }
}
