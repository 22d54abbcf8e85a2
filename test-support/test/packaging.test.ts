import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const packagesDir = join(repoRoot, 'packages');
const packages = readdirSync(packagesDir).map((dir) => ({
  dir: join(packagesDir, dir),
  manifest: JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as {
    name: string;
    license?: string;
    files?: string[];
    repository?: unknown;
    private?: boolean;
  },
}));
const apache = readFileSync(join(repoRoot, 'LICENSE'), 'utf8');

describe('licensing and package metadata', () => {
  it('has the full Apache-2.0 text at the root', () => {
    expect(apache).toContain('Apache License');
    expect(apache).toContain('Version 2.0, January 2004');
    expect(apache).toContain('END OF TERMS AND CONDITIONS');
  });

  it.each(packages.filter((p) => !p.manifest.private).map((p) => [p.manifest.name, p] as const))(
    '%s ships the Apache-2.0 LICENSE it declares and no placeholder repository',
    (_name, p) => {
      expect(p.manifest.license).toBe('Apache-2.0');
      expect(readFileSync(join(p.dir, 'LICENSE'), 'utf8')).toBe(apache);
      expect(p.manifest.files).toContain('LICENSE');
      expect(JSON.stringify(p.manifest.repository ?? '')).not.toContain('example.invalid');
    },
  );
});
