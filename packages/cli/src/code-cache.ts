/**
 * Loading the CLI's CommonJS bundle through V8's code cache, as Node 22's
 * `module.enableCompileCache()` does (Node 20 has no such switch). Compiling the bundle and the
 * functions a command runs is most of what `otakit artifact read` costs over a bare `node`
 * (measured by bench/cli.bench.ts); with the cache V8 deserialises the compiled code instead.
 *
 * The cache is one file per built file, in `$OTAKIT_COMPILE_CACHE`, else
 * `$XDG_CACHE_HOME/otakit/v8-cache`, else `~/.cache/otakit/v8-cache` (created 0700). It is named
 * after the built file's path, size and mtime, Node's version and the CPU architecture, and V8
 * itself refuses data made for another source or other flags (then the bundle compiles as without
 * a cache, and the cache is written again). `OTAKIT_COMPILE_CACHE=0` turns it off. Nothing about
 * the cache can fail a command: any error reading or writing it falls back to a plain compile.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type { Script } from 'node:vm';

/** The directory the cache lives in, or `undefined` when it is turned off or there is no home. */
export function codeCacheDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.OTAKIT_COMPILE_CACHE;
  if (setting === '0' || setting === 'off') return undefined;
  if (setting) return setting;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'otakit', 'v8-cache');
  let home: string;
  try {
    // $HOME first, as os.homedir() itself does; node:os and node:vm are loaded only when used
    // (src/bin.ts imports this module for every command, and neither `otakit artifact validate`
    // nor `otakit device run` needs them: 0.2 and 0.1 MiB of the idle agent's RSS).
    home = env.HOME || process.getBuiltinModule('node:os').homedir();
  } catch {
    return undefined;
  }
  return home ? join(home, '.cache', 'otakit', 'v8-cache') : undefined;
}

/** FNV-1a of a string, in hex: names a built file's cache without loading node:crypto. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** The wrapper Node puts around a CommonJS file, on one line so that line numbers stay right. */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { ';

type CommonJsWrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

/**
 * Runs the CommonJS file `file` as `require(file)` would (its own `require`, `module`,
 * `__filename`, `__dirname`) and returns its exports, compiled from the code cache in `cacheDir`
 * when one is there and V8 accepts it. Without a usable cache the file compiles as usual and, at
 * exit, the code compiled by then (the bundle and every function the command ran) is written to
 * the cache for the next run. `cacheDir` `undefined`: a plain `require`. `requireNear`: the
 * `require` the file gets, one that resolves from the file's directory (default: made with
 * node:module's `createRequire`; src/bin.ts passes its own, as the bundle sits next to it, so
 * that node:module is never loaded).
 */
export function requireWithCodeCache(
  file: string,
  cacheDir: string | undefined,
  requireNear: NodeJS.Require = createRequire(file),
): unknown {
  if (cacheDir === undefined) return requireNear(file);
  let source: string;
  let cacheFile: string;
  let prefix: string;
  try {
    source = readFileSync(file, 'utf8');
    const { size, mtimeMs } = statSync(file);
    prefix = `${basename(file)}-${fnv1a(file)}-`;
    cacheFile = join(
      cacheDir,
      `${prefix}${size}-${Math.trunc(mtimeMs)}-${process.version}-${process.arch}.v8cache`,
    );
  } catch {
    return requireNear(file);
  }
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const { Script } = process.getBuiltinModule('node:vm');
  const script = new Script(`${WRAP_HEAD}${source}\n})`, {
    filename: file,
    columnOffset: -WRAP_HEAD.length,
    // No `importModuleDynamically`: Node 20 runs one only under --experimental-vm-modules, so the
    // bundle is built without `import()` (see tsup.config.ts).
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once('exit', () => saveCodeCache(script, cacheDir, cacheFile, prefix));
  }
  const wrapper = script.runInThisContext() as CommonJsWrapper;
  const module = { exports: {} as unknown };
  wrapper.call(module.exports, module.exports, requireNear, module, file, dirname(file));
  return module.exports;
}

/** Writes the cache atomically (another `otakit` may be reading it) and drops stale ones. */
function saveCodeCache(script: Script, cacheDir: string, cacheFile: string, prefix: string): void {
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const data = script.createCachedData();
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temporary, data, { mode: 0o600 });
    renameSync(temporary, cacheFile);
    const current = basename(cacheFile);
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith(prefix) && name !== current && name.endsWith('.v8cache')) {
        rmSync(join(cacheDir, name), { force: true });
      }
    }
  } catch {
    // A cache that cannot be written costs the next run its compile time, nothing else.
  }
}
