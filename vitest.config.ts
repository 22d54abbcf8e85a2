import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@otakit/core': src('core'),
      '@otakit/management-client': src('management-client'),
      '@otakit/device-client': src('device-client'),
      '@otakit/iot-core-adapter': src('iot-core-adapter'),
      '@otakit/sandbox': src('sandbox'),
      '@otakit/telemetry': src('telemetry'),
      '@otakit/simulator': src('simulator'),
      '@otakit/dashboard': src('dashboard'),
      // Helpers shared by several packages' tests (never published).
      '@otakit/test-support': fileURLToPath(new URL('./test-support/index.ts', import.meta.url)),
    },
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'test-support/test/**/*.test.ts',
    ],
    // Stops the run at once, with one line, when ../shared (specs and vectors) is missing.
    globalSetup: ['./test-support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
