import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
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
/** Whether a bundle that compiles in `bundled` (and BUNDLED_PACKAGES) leaves `path` out. */
const leftOutBut =
  (bundled: ReadonlySet<string>) =>
  (path: string): boolean =>
    path.startsWith('node:') ||
    BUILTINS.has(path.split('/')[0] as string) ||
    DEPENDENCIES.some((name) => !bundled.has(name) && (path === name || path.startsWith(`${name}/`)));

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

const bundleSource = (file: string): string =>
  fileURLToPath(new URL(`./src/bundle/${file}`, import.meta.url));

/**
 * A module that `require`s one export of a file of src/bundle, for a `require()` of undici's CommonJS
 * that expects that export as the whole module.
 */
const reexport = (file: string, name: string) => ({
  contents: `module.exports = require(${JSON.stringify(bundleSource(file))}).${name};`,
  loader: 'js' as const,
  resolveDir: bundleSource('.'),
});

/**
 * The undici of `otakit device ...` (dist/otakit-device.cjs): core's `import('undici')` gets
 * src/bundle/undici.ts (the Agent, proxy agents, request API and errors from undici's own `lib/`
 * files, not its entry with fetch, WebSocket, caches and mocks), and within undici:
 * - `node:assert` is src/bundle/assert.ts: undici only calls `assert(value[, message])` on its own
 *   invariants, and Node's module costs ~3 MiB of RSS once loaded;
 * - `lib/dispatcher/client-h2.js` is src/bundle/no-http2.ts, which throws a clear error if ever
 *   called: undici calls it only for a connection that negotiated HTTP/2 (`allowH2` or `useH2c`,
 *   which otakit never sets), and the real one loads `node:http2` (~2 MiB of RSS) with undici;
 * - `node:http`, read by `lib/dispatcher/client.js` (`maxHeaderSize`) and `lib/core/util.js`
 *   (`IncomingMessage`) when they load, is src/bundle/http.ts, which loads it only when an answer
 *   needs it (`--max-http-header-size` given, a class named IncomingMessage): the agent no longer
 *   loads Node's HTTP client and server modules and perf_hooks with undici;
 * - the files undici `require`s only on paths the agent never takes stay undici's own files,
 *   loaded from node_modules if ever reached, rather than source text the agent holds (every byte
 *   of the bundle stays in memory as its source, in V8's heap): fetch's body encoder (for a
 *   FormData handed to a dispatcher as is; core encodes a FormData into a stream first) and both
 *   builds of undici's WebAssembly HTTP parser, llhttp (72 KB of base64 for the SIMD one), which
 *   only undici's own HTTP/1 client loads: `device run` sends over core's `transport: 'node'`
 *   (Node's HTTP client, see core/src/http/node-dispatcher.ts), so undici's client runs only
 *   through a proxy (src/bundle/undici.ts loads undici's agents when first read).
 * Measured with bench/device.bench.ts (idle `otakit device run`); pinned by
 * test/device-bundle.test.ts and test/device-idle.test.ts.
 */
const leanUndici: EsbuildPlugin = {
  name: 'otakit-lean-undici',
  setup(build) {
    const inUndici = (importer: string) => /[\\/]undici[\\/]lib[\\/]/.test(importer);
    build.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'otakit-undici' }));
    build.onResolve({ filter: /^(node:)?assert$/ }, (args) =>
      inUndici(args.importer) ? { path: 'assert', namespace: 'otakit-undici' } : undefined,
    );
    build.onResolve({ filter: /^\.\/client-h2(\.js)?$/ }, (args) =>
      inUndici(args.importer) ? { path: 'client-h2', namespace: 'otakit-undici' } : undefined,
    );
    build.onResolve({ filter: /^\.\.\/(web\/fetch\/body|llhttp\/llhttp(_simd)?-wasm)\.js$/ }, (args) =>
      inUndici(args.importer)
        ? { path: `undici/lib/${args.path.slice(3)}`, namespace: 'otakit-require' }
        : undefined,
    );
    build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/.test(args.importer)
        ? { path: 'http', namespace: 'otakit-undici' }
        : undefined,
    );
    build.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]core[\\/]util\.js$/ }, async (args) => ({
      contents: withoutHttpImport(await readFile(args.path, 'utf8'), args.path),
      loader: 'js',
    }));
    build.onLoad({ filter: /.*/, namespace: 'otakit-undici' }, (args) => {
      if (args.path === 'assert') return reexport('assert.ts', 'assert');
      if (args.path === 'client-h2') return reexport('no-http2.ts', 'connectH2');
      if (args.path === 'http') return reexport('http.ts', 'httpForClient');
      return reexport('undici.ts', 'undiciSubset');
    });
  },
};

/**
 * undici's `lib/core/util.js` with its `IncomingMessage` check made by src/bundle/http.ts, which
 * loads `node:http` only for a class of that name: the file destructures `IncomingMessage` from
 * `node:http` when it loads. Fails the build if the file no longer reads as expected (another
 * undici), rather than bundling a `node:http` the agent would load.
 */
function withoutHttpImport(source: string, path: string): string {
  const edits: [string, string][] = [
    [
      "const { IncomingMessage } = require('node:http')\n",
      `const { isIncomingMessage } = require(${JSON.stringify(bundleSource('http.ts'))})\n`,
    ],
    [
      'Object.getPrototypeOf(stream).constructor === IncomingMessage',
      'isIncomingMessage(Object.getPrototypeOf(stream).constructor)',
    ],
  ];
  let out = source;
  for (const [from, to] of edits) {
    if (out.split(from).length !== 2) throw new Error(`${path}: expected \`${from.trim()}\` once`);
    out = out.replace(from, to);
  }
  if (/\bIncomingMessage\b|node:http\b/.test(out)) {
    throw new Error(`${path}: still uses IncomingMessage or node:http after the edits`);
  }
  return out;
}

/**
 * In the device bundle the command groups other than `device` (which src/bin.ts never runs from
 * it) are a module that throws: their code is not source text the agent holds for nothing.
 */
const deviceGroupOnly: EsbuildPlugin = {
  name: 'otakit-device-group-only',
  setup(build) {
    build.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) =>
      /[\\/]commands[\\/]registry\.ts$/.test(args.importer) && args.path !== './device.js'
        ? { path: args.path, namespace: 'otakit-other-group' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'otakit-other-group' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`otakit: ${args.path} is not in the device bundle (src/bin.ts runs it from another file)`)});`,
      loader: 'js',
    }));
  },
};

/**
 * Node modules a bundle `require`s on first use rather than when it loads. Each becomes a module
 * of getters, one per export (listed from this Node at build time), that require the real module
 * when read: `import { spawn } from 'node:child_process'` still works, and `spawn` is only looked
 * up where it is called. Measured (RSS after `gc()` around each first `require`, and the peak RSS
 * of `otakit artifact validate` in bench/artifact.bench.ts): node:child_process 0.50 MiB,
 * node:fs/promises (with the readline, watcher and dir modules it loads) ~0.5 MiB, node:zlib
 * ~0.25 MiB, node:os 0.21 MiB; validating an uncompressed artifact and the idle agent use none.
 */
const lazyBuiltins = (modules: readonly string[]): EsbuildPlugin => ({
  name: 'otakit-lazy-builtins',
  setup(build) {
    const filter = new RegExp(`^(node:)?(${modules.join('|')})$`);
    build.onResolve({ filter }, (args) =>
      // The real module, required by the module of getters.
      args.namespace === 'otakit-lazy-builtin'
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: 'otakit-lazy-builtin' },
    );
    build.onLoad({ filter: /.*/, namespace: 'otakit-lazy-builtin' }, async (args) => {
      const names = Object.keys((await import(`node:${args.path}`)) as object).filter(
        (name) => name !== 'default',
      );
      const getters = names.map(
        (name) => `get ${JSON.stringify(name)}() { return load()[${JSON.stringify(name)}]; }`,
      );
      return {
        contents: [
          `let loaded;`,
          `const load = () => (loaded ??= require(${JSON.stringify(`node:${args.path}`)}));`,
          `module.exports = { ${getters.join(', ')} };`,
        ].join('\n'),
        loader: 'js',
      };
    });
  },
});

/** A CommonJS build of the executable: everything bundled but what `plugins` leave out. */
const commonJsBundle = (
  entry: Record<string, string>,
  alias: Record<string, string>,
  plugins: EsbuildPlugin[],
  inject: string[] = [],
): Options => ({
  entry,
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  noExternal: [/./],
  esbuildOptions(o) {
    o.alias = alias;
    o.minifyWhitespace = true;
    o.minifySyntax = true;
    o.inject = inject;
  },
  esbuildPlugins: plugins,
  // Keep `node:` specifiers (Node 20 has them), so that tsup's own plugin does not resolve
  // node:child_process before the plugins.
  removeNodeProtocol: false,
  splitting: false,
  clean: false,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});

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
  commonJsBundle(
    {
      otakit: 'src/bin.ts',
      'otakit-main': 'src/main.ts',
      'otakit-zstd-wasm': '../core/src/artifact/zstd-wasm-module.ts',
    },
    { '@otakit/core': '../core/src/index.ts' },
    [
      lazyChildProcessForCommander,
      zstdWasmOwnFile,
      lazyBuiltins(['fs/promises', 'zlib', 'os', 'module']),
      leftOut(leftOutBut(new Set())),
    ],
  ),
  // `otakit device ...` (see src/bin.ts): the CLI as one CommonJS file with the device client,
  // core and the parts of undici the agent uses compiled in, so that an idle `device run` holds
  // no module it does not run (issue 15: idle RSS <= 48 MiB).
  commonJsBundle(
    { 'otakit-device': 'src/main.ts' },
    { '@otakit/core': '../core/src/index.ts', '@otakit/device-client': '../device-client/src/index.ts' },
    [
      lazyBuiltins(['child_process', 'os', 'zlib']),
      zstdWasmOwnFile,
      leanUndici,
      deviceGroupOnly,
      // The device bundle also compiles in the device client and undici.
      leftOut(leftOutBut(new Set(['@otakit/device-client', 'undici']))),
    ],
    // `performance.now()` without the global's perf_hooks (see src/bundle/performance.ts).
    [bundleSource('performance.ts')],
  ),
]);
