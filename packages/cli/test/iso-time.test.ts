/**
 * The agent's event time (src/shared/iso-time.ts) is `Date#toISOString` computed by arithmetic
 * (so that the idle agent does not page in ICU): the same string for every time it handles.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTime } from '../src/shared/iso-time.js';

const YEAR_0 = -62_167_219_200_000;
const YEAR_10000 = 253_402_300_800_000;

describe('isoTime', () => {
  it('prints what Date#toISOString prints, for any ms in years 0 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: YEAR_0, max: YEAR_10000 - 1 }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('is right at the edges: the epoch, leap days, century rules, the first and last ms of a range', () => {
    const edges = [
      0,
      -1,
      1,
      Date.UTC(1970, 0, 1, 23, 59, 59, 999),
      Date.UTC(2000, 1, 29, 12),
      Date.UTC(1900, 1, 28, 23, 59, 59, 999),
      Date.UTC(1900, 2, 1),
      Date.UTC(2100, 1, 28, 23, 59, 59, 999),
      Date.UTC(2100, 2, 1),
      Date.UTC(2400, 1, 29),
      Date.UTC(2024, 11, 31, 23, 59, 59, 999),
      Date.UTC(2025, 0, 1),
      YEAR_0,
      YEAR_10000 - 1,
    ];
    for (const ms of edges) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('leaves years outside 0..9999 and non-integer times to Date', () => {
    expect(isoTime(YEAR_10000)).toBe('+010000-01-01T00:00:00.000Z');
    expect(isoTime(YEAR_0 - 1)).toBe('-000001-12-31T23:59:59.999Z');
    expect(isoTime(1.5)).toBe(new Date(1.5).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });

  it('defaults to now', () => {
    const before = Date.now();
    const printed = Date.parse(isoTime());
    expect(printed).toBeGreaterThanOrEqual(before);
    expect(printed).toBeLessThanOrEqual(Date.now());
  });
});
