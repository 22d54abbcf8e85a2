/**
 * Atomic, durable file replacement (temporary file, fsync, rename, fsync of the directory) and the
 * JSON helpers built on it, shared by the device key store, the device agent and rollout state.
 *
 * @module
 */

export {
  fsyncDir,
  mkdirDurable,
  readJsonFile,
  type WriteFileAtomicOptions,
  writeFileAtomic,
  writeJsonFileAtomic,
} from './atomic.js';
