import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * commander requires node:child_process when it loads, for executable subcommands, which otakit
 * does not have; in the bundle it gets a `spawn` that loads node:child_process on first call, so
 * `otakit artifact read` does not load child_process, net and dgram (0.45 MiB of peak RSS measured).
 */
const lazyChildProcessForCommander: EsbuildPlugin = {
  name: 'otakit-commander-lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'otakit-lazy' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'otakit-lazy' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};

/** @otakit/core's source entry, bundled into the executable for `artifact read|validate`. */
const CORE_SOURCE = fileURLToPath(new URL('../core/src/index.ts', import.meta.url));

/**
 * `otakit artifact read|validate` load only the reader's part of @otakit/core: the artifact command
 * and the shared modules it uses (errors, failure handling) get core bundled from source, so that
 * esbuild keeps (and runs at load) only the modules they use, where requiring the package runs
 * all of it (transport, keys, writer: ~2.3 MiB of peak RSS measured with bench/artifact.bench.ts).
 * A dynamic `import('@otakit/core')` (the writer and signer, in `artifact write|sign`) and every
 * other command keep the package itself. otakit's error classes are branded (`instanceof` works
 * across copies), so errors from the bundled reader are still `OtakitError`s to anyone.
 */
const coreSourceForArtifactReads: EsbuildPlugin = {
  name: 'otakit-core-source-for-artifact-reads',
  setup(build) {
    build.onResolve({ filter: /^@otakit\/core$/ }, (args) =>
      args.kind !== 'dynamic-import' &&
      /[\\/]src[\\/](commands[\\/]artifact\.ts|shared[\\/])/.test(args.importer)
        ? { path: CORE_SOURCE }
        : { path: '@otakit/core', external: true },
    );
  },
};

export default defineConfig([
  // The library (`main` for programs that embed the CLI) and the ESM build the executable runs for
  // commands other than `--version`, `--help` and `artifact`.
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false, incremental: false } },
    clean: ['!otakit*.cjs*'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  },
  // The executable (see src/bin.ts): a small dispatcher, and the CLI as one CommonJS file with
  // commander bundled in for `--help` and `artifact ...`.
  {
    entry: { otakit: 'src/bin.ts', 'otakit-main': 'src/main.ts' },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    noExternal: ['commander', '@otakit/core'],
    esbuildPlugins: [lazyChildProcessForCommander, coreSourceForArtifactReads],
    // Keep `node:` specifiers (Node 20 has them), so that tsup's own plugin does not resolve
    // node:child_process before the one above.
    removeNodeProtocol: false,
    splitting: false,
    clean: false,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  },
]);
