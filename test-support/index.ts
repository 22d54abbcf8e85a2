/**
 * Helpers shared by the tests of several packages (never published): the shared folder, the
 * artifact vectors and loopback HTTP servers. Imported as `@otakit/test-support` (a vitest alias and a TypeScript path).
 */

export * from './craft.js';
export * from './hostile.js';
export * from './http.js';
export * from './readme.js';
export * from './shared.js';
export * from './vectors.js';
