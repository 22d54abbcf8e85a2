import { readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
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

/**
 * Node modules that the bundle loads only when one of their exports is first used: each import of
 * them gets an object of getters that require the module then. Measured (bench/artifact.bench.ts,
 * peak RSS of `otakit artifact validate`): `node:fs/promises` (with the readline, watcher and dir
 * modules it loads) and `node:zlib` added about 0.5 and 0.25 MiB when every command module that
 * imports them was initialised, though validating an uncompressed artifact calls neither.
 */
const LAZY_BUILTINS = ['node:fs/promises', 'node:zlib', 'node:os', 'node:module'];
const lazyBuiltins: EsbuildPlugin = {
  name: 'otakit-lazy-builtins',
  setup(build) {
    const nodeRequire = createRequire(import.meta.url);
    build.onResolve({ filter: /^node:/ }, (args) =>
      LAZY_BUILTINS.includes(args.path) && args.namespace !== 'otakit-lazy-builtin'
        ? { path: args.path, namespace: 'otakit-lazy-builtin' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'otakit-lazy-builtin' }, (args) => {
      const names = Object.keys(nodeRequire(args.path) as object).filter((n) => n !== 'default');
      const spec = JSON.stringify(args.path);
      return {
        contents: [
          'let loaded;',
          `const load = () => (loaded ??= require(${spec}));`,
          ...names.map(
            (n) =>
              `Object.defineProperty(exports, ${JSON.stringify(n)}, { enumerable: true, get: () => load()[${JSON.stringify(n)}] });`,
          ),
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

/**
 * What the CommonJS bundle leaves out: Node's builtins and this package's dependencies other than
 * commander and @otakit/core (bundled from source, so that only the artifact code is compiled).
 * A static import of one stays a `require()`; a dynamic `import()` becomes a lazy `require()`:
 * the bundle runs as a `vm.Script` (through V8's code cache, see src/code-cache.ts), where Node
 * 20 cannot run `import()` without `--experimental-vm-modules`. All those modules have CommonJS
 * builds. (tsup's own externals are off for this build: they would keep the `import()`.)
 */
const leftOut = (external: (path: string) => boolean): EsbuildPlugin => ({
  name: 'otakit-left-out',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.namespace === 'otakit-require') return { path: args.path, external: true };
      if (!external(args.path)) return undefined;
      return args.kind === 'dynamic-import'
        ? { path: args.path, namespace: 'otakit-require' }
        : { path: args.path, external: true };
    });
    build.onLoad({ filter: /.*/, namespace: 'otakit-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
});

const BUILTINS = new Set(builtinModules);
const BUNDLED_PACKAGES = new Set(['commander', '@otakit/core']);
const DEPENDENCIES = Object.keys(
  (
    JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    }
  ).dependencies,
).filter((name) => !BUNDLED_PACKAGES.has(name));
const isLeftOut = (path: string): boolean =>
  path.startsWith('node:') ||
  BUILTINS.has(path.split('/')[0] as string) ||
  DEPENDENCIES.some((name) => path === name || path.startsWith(`${name}/`));

/**
 * core's WebAssembly zstd decoder (the fallback where no `zstd` program can be started) imports its
 * module (113 KB of base64) on the first zstd payload it decodes;
 * in the bundle that import names a file of its own (built from the same module below), so that
 * `otakit artifact read` of other artifacts neither reads nor parses it.
 */
const zstdWasmOwnFile: EsbuildPlugin = {
  name: 'otakit-zstd-wasm-own-file',
  setup(build) {
    build.onResolve({ filter: /[\\/]zstd-wasm-module\.js$/ }, (args) =>
      args.kind === 'dynamic-import'
        ? { path: './otakit-zstd-wasm.cjs', namespace: 'otakit-require' }
        : undefined,
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
    entry: {
      otakit: 'src/bin.ts',
      'otakit-main': 'src/main.ts',
      'otakit-zstd-wasm': '../core/src/artifact/zstd-wasm-module.ts',
    },
    format: ['cjs'],
    outExtension: () => ({ js: '.cjs' }),
    noExternal: [/./],
    esbuildOptions(o) {
      o.alias = { '@otakit/core': '../core/src/index.ts' };
      o.minifyWhitespace = true;
      o.minifySyntax = true;
    },
    esbuildPlugins: [lazyChildProcessForCommander, zstdWasmOwnFile, lazyBuiltins, leftOut(isLeftOut)],
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
