import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, readJsonFile, writeJsonFileAtomic } from '@otakit/core';
import { readABState, type Slot } from '../bootloader/bootloader.js';
import { FileBootloader } from '../bootloader/file.js';
import { mkdirDurable } from '../durable-fs.js';
import { storePayloadFile } from '../payload-files.js';
import type { InstallContext, PayloadFile } from '../types.js';
import type { SlotStrategy, WrittenImage } from './slots.js';

/** Options of {@link DirectorySlots}. */
export interface DirectorySlotsOptions {
  /** The device directory: `slot-a/`, `slot-b/`, `boot-env.json` and the fault markers live here. */
  dir: string;
  /** Trial boots allowed before the simulated bootloader reverts (default 1, as Mender). */
  bootlimit?: number;
}

/** The simulated device's boot state, for tests and demos. */
export interface SimulatedBootState {
  /** The slot the simulated system is running. */
  booted: Slot;
  /** The slot the bootloader will boot next. */
  bootSlot: Slot;
  /** Whether a new image is on trial (`upgrade_available=1`). */
  upgradeAvailable: boolean;
  /** Trial boots so far. */
  bootcount: number;
}

const SLOT_META = '.otakit-slot.json';
const FAIL_BOOT = 'fail-next-boot';
const FAIL_VERIFY = 'fail-next-verify';

const asSlot = (value: string | undefined): Slot => (value === 'b' ? 'b' : 'a');

/**
 * A whole A/B device in one directory: two slots (`dir/slot-a`, `dir/slot-b`) holding the payload
 * files, and a {@link FileBootloader} environment (`dir/boot-env.json`) with U-Boot style boot
 * counting; the reboot is simulated in-process (the bootloader picks the slot from the environment
 * and reverts once the boot limit is passed). Fault markers on disk make the next boot or
 * self-check of a new image fail, across processes.
 */
export class DirectorySlots implements SlotStrategy {
  readonly label = 'simulated';
  /** Each payload file is written in order to `slot-X/<name>`, so the agent keeps no copy of it. */
  readonly adoptsPlacement = true;
  readonly bootloader: FileBootloader;
  readonly #dir: string;

  constructor(options: DirectorySlotsOptions) {
    this.#dir = options.dir;
    this.bootloader = new FileBootloader({
      file: join(options.dir, 'boot-env.json'),
      bootPart: { a: 'a', b: 'b' },
      bootlimit: options.bootlimit ?? 1,
    });
  }

  bootPart(slot: Slot): string {
    return slot;
  }

  async activeSlot(): Promise<Slot> {
    return asSlot(await this.bootloader.bootedPart());
  }

  async write(slot: Slot, files: AsyncIterable<PayloadFile>, ctx: InstallContext): Promise<WrittenImage> {
    const slotDir = this.slotDir(slot);
    let prepared = false;
    const prepare = async (resuming: boolean) => {
      prepared = true;
      // A resumed download keeps what it wrote before the restart: the agent replays it from here.
      if (resuming) await rm(join(slotDir, SLOT_META), { force: true });
      else await rm(slotDir, { recursive: true, force: true });
      await mkdirDurable(slotDir);
      ctx.log(`simulated: ${resuming ? 'resuming the payload' : 'writing payload'} into slot ${slot}`);
    };
    const image: WrittenImage = { files: [] };
    for await (const file of files) {
      if (!prepared) await prepare(file.placement?.resuming === true);
      const written = await storePayloadFile(slotDir, file, ctx.signal);
      image.files.push({ name: file.name, ...written });
      ctx.log(`simulated: wrote ${file.name} (${written.size} bytes, sha256 ${written.sha256})`);
    }
    if (!prepared) await prepare(false);
    // A resumed write kept the slot's files: drop anything not in this payload (a temporary file
    // left by the power cut), so the slot holds exactly the payload's files.
    const names = new Set(image.files.map((f) => f.name));
    for (const entry of await readdir(slotDir)) {
      if (!names.has(entry)) await rm(join(slotDir, entry), { recursive: true, force: true });
    }
    await writeJsonFileAtomic(join(slotDir, SLOT_META), {
      artifactName: ctx.artifactName,
      files: image.files,
    });
    await fsyncDir(slotDir);
    return image;
  }

  async reboot(target: Slot, ctx: InstallContext): Promise<void> {
    const failBoot = await this.#hasMarker(FAIL_BOOT);
    const result = await this.bootloader.boot({ crashes: (part) => failBoot && part === target });
    if (failBoot) await this.#clearMarker(FAIL_BOOT);
    ctx.log(
      `simulated: rebooted into slot ${result.part} after ${result.attempts} attempt(s)${result.reverted ? ' (boot limit passed, bootloader reverted)' : ''}`,
    );
  }

  async checkImage(
    _slot: Slot,
    _ctx: InstallContext,
    fail: (reason: string) => Promise<void>,
  ): Promise<void> {
    if (!(await this.#hasMarker(FAIL_VERIFY))) return;
    await fail('the new image failed its check');
    await this.#clearMarker(FAIL_VERIFY);
  }

  /** The directory of a slot. */
  slotDir(slot: Slot): string {
    return join(this.#dir, `slot-${slot}`);
  }

  /** The simulated boot state: running slot, next boot slot, trial flag and boot count. */
  async bootState(): Promise<SimulatedBootState> {
    const ab = await readABState(this.bootloader);
    return {
      booted: await this.activeSlot(),
      bootSlot: asSlot(ab.bootPart),
      upgradeAvailable: ab.upgradeAvailable,
      bootcount: ab.bootcount,
    };
  }

  /** The files of a slot (name → content); empty when the slot was never written. */
  async slotContent(slot: Slot): Promise<Record<string, Buffer>> {
    const dir = this.slotDir(slot);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    const out: Record<string, Buffer> = {};
    for (const name of names.sort()) {
      if (name === SLOT_META) continue;
      out[name] = await readFile(join(dir, name));
    }
    return out;
  }

  /** The artifact name whose payload is in a slot, or undefined for the factory image. */
  async slotArtifactName(slot: Slot): Promise<string | undefined> {
    return (await readJsonFile<{ artifactName: string }>(join(this.slotDir(slot), SLOT_META)))?.artifactName;
  }

  /** Makes the next simulated boot of a new image fail (it "crashes" on every trial boot). */
  async failNextBoot(): Promise<void> {
    await this.#setMarker(FAIL_BOOT);
  }

  /** Makes the next self-check of a new image fail even though it came up. */
  async failNextVerify(): Promise<void> {
    await this.#setMarker(FAIL_VERIFY);
  }

  async #hasMarker(name: string): Promise<boolean> {
    return (await readJsonFile<unknown>(join(this.#dir, name))) !== undefined;
  }

  async #setMarker(name: string): Promise<void> {
    await mkdirDurable(this.#dir);
    await writeJsonFileAtomic(join(this.#dir, name), { set: true });
  }

  async #clearMarker(name: string): Promise<void> {
    await rm(join(this.#dir, name), { force: true });
    await fsyncDir(this.#dir);
  }
}
