import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const README = new URL('../README.md', import.meta.url);
const blocks = [...readFileSync(README, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

describe('README', () => {
  const tmp = new URL('./readme-example.generated.ts', import.meta.url);
  afterEach(() => rmSync(tmp, { force: true }));

  it('opens with an example of at most 10 lines of code', () => {
    const code = (blocks[0] ?? '').replace(/^import [\s\S]*?from '[^']+';$/gm, '');
    const lines = code.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(lines.length).toBeLessThanOrEqual(10);
    expect(blocks[0]).toContain('preauthorizeFromRegistry');
  });

  it('runs the one-machine example against the sandboxes as written', async () => {
    const example = blocks.find((b) => b.includes('startIotCoreSandbox'));
    expect(example).toBeDefined();
    writeFileSync(tmp, `${example}\nexport {};\n`);
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      logged.push(args[0]);
    });
    try {
      await import(/* @vite-ignore */ tmp.href);
    } finally {
      spy.mockRestore();
    }
    expect(logged).toEqual(['preauthorized', 'hello']);
  });
});
