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
    noExternal: ['commander'],
    esbuildPlugins: [lazyChildProcessForCommander],
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
