import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRange } from '../src/routes/downloads.js';
import { checkLink, signLink } from '../src/signing.js';

describe('properties', () => {
  it('parseRange yields nothing, unsatisfiable, or a range inside the file, for any header', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `bytes=${a}-${b}`),
          fc.nat().map((n) => `bytes=-${n}`),
        ),
        fc.integer({ min: 1, max: 1_000_000 }),
        (header, size) => {
          const r = parseRange(header, size);
          if (r === undefined || r === null) return;
          expect(r.start).toBeGreaterThanOrEqual(0);
          expect(r.start).toBeLessThanOrEqual(r.end);
          expect(r.end).toBeLessThan(size);
        },
      ),
    );
  });

  it('a signed link verifies as issued and fails after any change to its path or parameters', () => {
    const key = randomBytes(32);
    const now = new Date('2026-01-01T00:00:00Z');
    const expire = new Date('2026-01-02T00:00:00Z');
    const name = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/).filter((k) => !k.startsWith('x-men'));
    fc.assert(
      fc.property(
        fc.stringMatching(/^\/[a-z0-9-][a-z0-9/-]{0,30}$/),
        fc.dictionary(name, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
        fc.nat(3),
        name,
        fc.string({ maxLength: 20 }),
        (path, params, kind, extraKey, extraValue) => {
          const link = new URL(signLink(path, params, expire, key), 'http://h');
          const good = checkLink(link.pathname, link.searchParams, key, now);
          expect(good).toEqual({ ok: true, params });
          const q = new URLSearchParams(link.searchParams);
          let p = link.pathname;
          const keys = Object.keys(params);
          if (kind === 0) p = `${p}x`;
          else if (kind === 1 && keys.length > 0) q.set(keys[0]!, `${params[keys[0]!]}!`);
          else if (kind === 2 && keys.length > 0) q.delete(keys[0]!);
          else if (Object.hasOwn(params, extraKey)) q.set(extraKey, `${params[extraKey]}?`);
          else q.set(extraKey, extraValue);
          expect(checkLink(p, q, key, now).ok).toBe(false);
          expect(checkLink(link.pathname, link.searchParams, key, expire).ok).toBe(false);
        },
      ),
    );
  });
});
