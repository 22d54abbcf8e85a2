import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findLink, parseLinkHeader } from '../../src/http/link.js';
import { redactUrl } from '../../src/http/redact.js';
import { parseRetryAfter } from '../../src/http/retry-after.js';

describe('header and URL parsers on arbitrary input', () => {
  it('parseLinkHeader returns a list for any string or list of strings, never throwing', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 4 })), (value) => {
        const entries = parseLinkHeader(value);
        expect(Array.isArray(entries)).toBe(true);
        for (const entry of entries) {
          expect(typeof entry.href).toBe('string');
          for (const rel of entry.rels) expect(rel).toBe(rel.toLowerCase());
        }
      }),
    );
  });

  it('finds the next link among generated links however they are joined', () => {
    const href = fc.stringMatching(/^\/[a-z/]{0,12}\?page=[0-9]{1,3}(&[a-z_]{1,6}=[a-z0-9,]{0,6}){0,3}$/);
    const rel = fc.constantFrom('first', 'prev', 'last');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(href, rel), { maxLength: 4 }),
        href,
        fc.boolean(),
        fc.boolean(),
        (others, next, quoted, oneLine) => {
          const links = [
            ...others.map(([h, r]) => `<${h}>; rel="${r}"`),
            `<${next}>; rel=${quoted ? '"next"' : 'next'}`,
          ];
          expect(findLink(oneLine ? links.join(', ') : links, 'next')).toBe(next);
        },
      ),
    );
  });

  it('parseRetryAfter gives a non-negative whole number of ms or undefined for any string', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const ms = parseRetryAfter(value, 0);
        if (ms !== undefined) {
          expect(Number.isInteger(ms)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });

  it('redactUrl returns a string for any input and is idempotent', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true })),
        (value) => {
          const once = redactUrl(value);
          expect(typeof once).toBe('string');
          expect(redactUrl(once)).toBe(once);
        },
      ),
    );
  });
});
