/**
 * The `otakit` executable (`bin/otakit.cjs` requires the CommonJS file built from this one). It
 * only picks how to run the command, so that `--version` loads nothing else:
 *
 * - `--version`: answered here.
 * - `--help` (no command) and `artifact ...`, the commands whose start-up is held to 150 ms and
 *   50 MiB: `dist/otakit-main.cjs`, the CLI as one CommonJS file with commander and the artifact
 *   code of `@otakit/core` bundled in (from source, so that esbuild keeps only what those commands
 *   use). Measured (bench/cli.bench.ts): the ESM entry cost the ESM loader (~2 MiB), commander
 *   resolved from node_modules went through the CJS export lexer and module resolution, and core's
 *   whole CommonJS build (HTTP client, keys, tokens) was most of the compile time. The bundle is
 *   loaded through V8's code cache (see code-cache.ts), after the V8 settings of
 *   commands/artifact-v8.ts: V8 tags a code cache with its flags, so they are set first, and for
 *   every bundled command alike (a cache written under other flags would be refused and rewritten).
 * - `device ...`: `dist/otakit-device.cjs`, the CLI as one CommonJS file with the device client,
 *   core and the parts of undici the agent uses compiled in (see tsup.config.ts and src/bundle/),
 *   for the idle `device run` target of issue 15 (RSS <= 48 MiB). Measured with
 *   bench/device.bench.ts, idle RSS median: 61.8 MiB from the ESM build, ~53 MiB from this file:
 *   no ESM loader, no undici entry (fetch, WebSocket, caches, mocks), no node:assert, no
 *   node:http2, and one copy of core; ~51.8 MiB (30 s and 90 s) with no node:http or perf_hooks
 *   (src/bundle/http.ts, src/bundle/performance.ts) and the V8 settings of commands/device-v8.ts.
 *   `device run --iot-device-id` still loads the IoT Core adapter's own build (with its own core)
 *   when telemetry starts.
 * - every other command: the ESM build (`dist/index.js`), as before. Those commands load the
 *   clients' ESM builds; run from CommonJS they would load `@otakit/core` twice.
 */
import { join } from 'node:path';
import { commandName, isVersionRequest } from './argv.js';
import { codeCacheDirectory, requireWithCodeCache } from './code-cache.js';
import { settleV8ForArtifactReads } from './commands/artifact-v8.js';
import { settleV8ForDevice } from './commands/device-v8.js';
import { VERSION } from './version.js';

/** The top-level command run by the device bundle. */
const DEVICE = 'device';

/** Top-level commands (`undefined`: none, as in `otakit --help`) run by the CommonJS bundle. */
const BUNDLED = new Set<string | undefined>([undefined, 'artifact']);

/** Built files next to this one; in variables so that the bundler leaves them alone. */
const CJS_MAIN = './otakit-main.cjs';
const CJS_DEVICE = './otakit-device.cjs';
const ESM_MAIN = './index.js';

type Main = (argv: string[]) => Promise<number>;

async function run(argv: string[]): Promise<number> {
  if (isVersionRequest(argv)) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const name = commandName(argv);
  let main: Main;
  if (name === DEVICE) {
    // V8 settings first (commands/device-v8.ts). A plain require: the code cache made no
    // difference to the idle agent's RSS (measured), and a cache is tagged with V8's flags.
    settleV8ForDevice();
    ({ main } = require(join(__dirname, CJS_DEVICE)) as { main: Main });
  } else if (BUNDLED.has(name)) {
    settleV8ForArtifactReads();
    ({ main } = requireWithCodeCache(join(__dirname, CJS_MAIN), codeCacheDirectory(), require) as {
      main: Main;
    });
  } else {
    ({ main } = (await import(ESM_MAIN)) as { main: Main });
  }
  return main(argv);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`otakit: ERR_CLI: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
