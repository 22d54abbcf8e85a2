import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { composite: false, incremental: false } },
    // Leaves dist/page (the browser bundle, built by the second entry) alone.
    clean: ['index.*'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    shims: true,
  },
  {
    // The page's script and styles (uPlot included), bundled for the browser into dist/page.
    entry: { app: 'page/main.ts' },
    outDir: 'dist/page',
    format: ['esm'],
    outExtension: () => ({ js: '.js' }),
    platform: 'browser',
    target: 'es2022',
    noExternal: [/.*/],
    minify: true,
    sourcemap: false,
    dts: false,
    clean: true,
  },
]);
