import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const README = new URL('../README.md', import.meta.url);
const blocks = [...readFileSync(README, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

/** Runs a README block as a module and returns what it printed with console.log. */
async function runBlock(code: string, file: URL): Promise<unknown[][]> {
  writeFileSync(file, `${code}\nexport {};\n`);
  const logged: unknown[][] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    logged.push(args);
  });
  try {
    await import(/* @vite-ignore */ file.href);
  } finally {
    spy.mockRestore();
  }
  return logged;
}

describe('README', () => {
  const tmp = new URL('./readme-example.generated.ts', import.meta.url);
  afterEach(() => rmSync(tmp, { force: true }));

  it('opens with an example of at most 10 lines of code', () => {
    const code = (blocks[0] ?? '').replace(/^import [\s\S]*?from '[^']+';$/gm, '');
    const lines = code.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(blocks[0]).toContain('openTelemetryStore');
  });

  it('runs the opening example as written: per-release p95 of a metric', async () => {
    const logged = await runBlock(blocks[0] as string, tmp);
    expect(logged).toEqual([
      ['release-1', 1, 0.42],
      ['release-2', 1, 0.97],
    ]);
  });

  it('runs the push ingest and read API example as written', async () => {
    const example = blocks.find((b) => b.includes('startPushIngest'));
    expect(example).toBeDefined();
    const logged = await runBlock(
      example as string,
      new URL('./readme-push.generated.ts', import.meta.url),
    ).finally(() => rmSync(new URL('./readme-push.generated.ts', import.meta.url), { force: true }));
    expect(logged).toEqual([[204], ['release-2', 0.31]]);
  });
});
