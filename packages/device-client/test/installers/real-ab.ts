// Real A/B hardware stand-ins for the loop-device tests: loop block devices (losetup) for the two
// root filesystem slots, and the real bootloader environment tools (grub-editenv from grub-common,
// fw_printenv/fw_setenv from libubootenv-tool) on environments the test creates in its own temp dir.
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import type { Bootloader } from '../../src/installers/index.js';

const run = promisify(execFile);

/** The tools and privileges these tests need; each entry names what is missing. */
export async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (losetup attaches loop devices)');
  for (const tool of ['losetup', 'grub-editenv', 'fw_printenv', 'fw_setenv']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}

/** Attaches `file` to a free loop device and returns its path (`/dev/loopN`). */
export async function attachLoop(file: string): Promise<string> {
  const { stdout } = await run('losetup', ['--find', '--show', file]);
  const dev = stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`losetup printed ${JSON.stringify(stdout)}`);
  return dev;
}

/** Detaches a loop device this test attached. */
export async function detachLoop(dev: string): Promise<void> {
  await run('losetup', ['--detach', dev]);
}

/** The backing file of a loop device, as the kernel reports it (to be sure it is ours). */
export async function loopBackingFile(dev: string): Promise<string> {
  const { stdout } = await run('losetup', ['--noheadings', '--output', 'BACK-FILE', dev]);
  return stdout.trim();
}

/** Reads `length` bytes from the start of a file or block device. */
export async function readHead(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Writes `data` at the start of a file or block device and flushes it. */
export async function writeHead(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(data, 0, data.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Parses `name=value` lines as the tools print them. */
function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The whole GRUB environment as `grub-editenv FILE list` prints it. */
export async function grubEditenvList(envFile: string): Promise<Record<string, string>> {
  return parseEnv((await run('grub-editenv', [envFile, 'list'])).stdout);
}

/** The whole U-Boot environment as `fw_printenv -c CONFIG` prints it. */
export async function fwPrintenv(config: string, defenv: string): Promise<Record<string, string>> {
  return parseEnv((await run('fw_printenv', ['-c', config, '-f', defenv])).stdout);
}

/**
 * The valid copies of a redundant U-Boot environment (libubootenv layout: CRC32 of the data, one
 * flags byte, then `name=value\0` pairs) in `image` at the given offsets, newest (highest flags,
 * modulo 256) first.
 */
export function ubootEnvCopies(
  image: Buffer,
  offsets: number[],
  size: number,
): { flags: number; vars: string[] }[] {
  const copies: { flags: number; vars: string[] }[] = [];
  for (const off of offsets) {
    const copy = image.subarray(off, off + size);
    const data = copy.subarray(5);
    if (crc32(data) !== copy.readUInt32LE(0)) continue;
    const end = data.indexOf(Buffer.from([0, 0]));
    copies.push({ flags: copy[4]!, vars: data.subarray(0, end).toString('latin1').split('\0') });
  }
  return copies.sort((x, y) => ((y.flags - x.flags + 256) % 256 < 128 ? 1 : -1));
}

/** What the simulated firmware did at power-on. */
export interface PowerOn {
  /** The `mender_boot_part` that came up. */
  part: string;
  /** Boots tried (a crashing image is retried by the watchdog). */
  attempts: number;
  /** Whether the boot limit was passed and the firmware swapped back (`altbootcmd`). */
  reverted: boolean;
}

/**
 * The firmware's part of a boot, over the real environment tools: Mender's U-Boot integration (and
 * grub-mender-grubenv's grub.cfg, with bootlimit 1) boots `mender_boot_part`; on trial
 * (`upgrade_available=1`) it counts the boot in `bootcount`, and once `bootcount` passes `bootlimit`
 * it swaps to the other partition and ends the trial. An image that `crashes` is rebooted by the
 * watchdog. No tool runs this logic outside a real boot, so it is written here; every variable it
 * reads or writes goes through the real tools.
 */
export async function powerOn(
  bootloader: Bootloader,
  parts: { a: string; b: string },
  crashes: (part: string) => boolean = () => false,
): Promise<PowerOn> {
  let reverted = false;
  for (let attempts = 1; attempts <= 8; attempts++) {
    const env = await bootloader.getEnv(['mender_boot_part', 'upgrade_available', 'bootcount', 'bootlimit']);
    let part = env.mender_boot_part ?? parts.a;
    if (env.upgrade_available === '1') {
      const count = Number.parseInt(env.bootcount ?? '0', 10) + 1;
      if (count > Number.parseInt(env.bootlimit ?? '1', 10)) {
        part = part === parts.a ? parts.b : parts.a;
        await bootloader.setEnv({
          mender_boot_part: part,
          mender_boot_part_hex: part,
          upgrade_available: '0',
          bootcount: '0',
        });
        reverted = true;
      } else {
        await bootloader.setEnv({ bootcount: String(count) });
      }
    }
    if (!crashes(part)) return { part, attempts, reverted };
  }
  throw new Error('the simulated device never came up');
}
