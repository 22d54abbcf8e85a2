/**
 * The `otakit` executable (`bin/otakit.cjs` requires the CommonJS file built from this one). It
 * only picks how to run the command, so that `--version` loads nothing else:
 *
 * - `--version`: answered here.
 * - `--help` (no command) and `artifact ...`, the commands whose start-up is held to 150 ms and
 *   50 MiB: `dist/otakit-main.cjs`, the CLI as one CommonJS file with commander bundled in, which
 *   requires `@otakit/core`'s CommonJS build. Measured (bench/cli.bench.ts): the ESM entry cost the
 *   ESM loader (~2 MiB), and commander resolved from node_modules went through the CJS export lexer
 *   and module resolution, whose hot loops V8 then optimised (~3 MiB of compiler memory).
 *   It is loaded through V8's code cache (see code-cache.ts), and `@otakit/core` is bundled into
 *   it from source so that only the artifact code is compiled, not the HTTP client, keys and
 *   the rest of core's CommonJS build.
 * - every other command: the ESM build (`dist/index.js`), as before. Those commands load the
 *   clients' ESM builds; run from CommonJS they would load `@otakit/core` twice.
 */
import { join } from 'node:path';
import { commandName, isVersionRequest } from './argv.js';
import { codeCacheDirectory, requireWithCodeCache } from './code-cache.js';
import { VERSION } from './version.js';

/** Top-level commands (`undefined`: none, as in `otakit --help`) run by the CommonJS bundle. */
const BUNDLED = new Set<string | undefined>([undefined, 'artifact']);

/** Built files next to this one; in variables so that the bundler leaves them alone. */
const CJS_MAIN = './otakit-main.cjs';
const ESM_MAIN = './index.js';

type Main = (argv: string[]) => Promise<number>;

async function run(argv: string[]): Promise<number> {
  if (isVersionRequest(argv)) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const { main } = BUNDLED.has(commandName(argv))
    ? (requireWithCodeCache(join(__dirname, CJS_MAIN), codeCacheDirectory()) as { main: Main })
    : ((await import(ESM_MAIN)) as { main: Main });
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
