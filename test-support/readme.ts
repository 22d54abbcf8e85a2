/** Running a README's code examples as written, from a package's tests. */

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { vi } from 'vitest';

/** The ```ts blocks of a README, in order. */
export function readmeBlocks(readme: URL): string[] {
  return [...readFileSync(readme, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

/**
 * Runs a README block as a module (written to `file`, removed after) and returns what it printed
 * with console.log. `scope` gives the names a fragment uses without defining them (what the
 * README's earlier sections made), as globals for the run. A module runs once per file: give each
 * run its own `file`.
 */
export async function runReadmeBlock(
  code: string,
  file: URL,
  scope: Record<string, unknown> = {},
): Promise<unknown[][]> {
  writeFileSync(file, `${code}\nexport {};\n`);
  const logged: unknown[][] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    logged.push(args);
  });
  Object.assign(globalThis, scope);
  try {
    await import(/* @vite-ignore */ file.href);
  } finally {
    spy.mockRestore();
    for (const name of Object.keys(scope)) delete (globalThis as Record<string, unknown>)[name];
    rmSync(file, { force: true });
  }
  return logged;
}
