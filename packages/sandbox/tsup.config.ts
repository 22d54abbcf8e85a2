import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/artifact-verify-worker.ts'],
  // import.meta.url (the worker's location) in the CommonJS build too.
  shims: true,
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { composite: false, incremental: false } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
});
