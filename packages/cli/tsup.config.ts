import { defineConfig } from 'tsup';

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
    splitting: false,
    clean: false,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  },
]);
