import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirDurable } from '@otakit/core';
import type { DeploymentLogEntry } from '../api/device-api.js';
import { type EventSink, safeEmit } from '../events.js';
import type { UpdateRecord } from './states.js';

/**
 * The directory that belongs to one update (`dataDir/updates/<id>`): its deployment log, the
 * artifact's state scripts and the installers' work directories. Kept until the update ends.
 * @internal
 */
export function updateDir(dataDir: string, updateId: string): string {
  return join(dataDir, 'updates', updateId.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/**
 * The deployment log of an update: JSON lines in its directory (so it survives restarts), each
 * line also emitted as a `log` event. Uploaded to the server when the update fails.
 * @internal
 */
export class DeploymentLog {
  readonly #dataDir: string;
  readonly #sink: EventSink;

  constructor(dataDir: string, sink: EventSink) {
    this.#dataDir = dataDir;
    this.#sink = sink;
  }

  /** Appends a line (best effort: a full disk must not fail the update). */
  async append(record: UpdateRecord, level: string, message: string): Promise<void> {
    safeEmit(this.#sink, 'log', { updateId: record.id, level, message });
    const entry: DeploymentLogEntry = { timestamp: new Date().toISOString(), level, message };
    try {
      const dir = updateDir(this.#dataDir, record.id);
      // Durably: the installers' work directories (their records of the update) live inside it.
      await mkdirDurable(dir);
      await appendFile(join(dir, 'deployment.log'), `${JSON.stringify(entry)}\n`);
    } catch {
      // The log is best effort.
    }
  }

  /** The entries so far; a torn line (power cut mid-append) reads as a marker entry. */
  async read(record: UpdateRecord): Promise<DeploymentLogEntry[]> {
    let text = '';
    try {
      text = await readFile(join(updateDir(this.#dataDir, record.id), 'deployment.log'), 'utf8');
    } catch {
      return [];
    }
    const out: DeploymentLogEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as DeploymentLogEntry);
      } catch {
        out.push({ timestamp: new Date().toISOString(), level: 'error', message: '(corrupt log line)' });
      }
    }
    return out;
  }
}
