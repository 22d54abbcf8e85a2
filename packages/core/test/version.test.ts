import { describe, expect, it } from 'vitest';
import pkg from '../package.json' with { type: 'json' };
import { VERSION } from '../src/index.js';

describe('@otakit/core', () => {
  it('reports the version from its package.json', () => {
    expect(VERSION).toBe(pkg.version);
  });
});
