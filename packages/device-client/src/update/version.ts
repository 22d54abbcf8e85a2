/**
 * Compares two version strings segment by segment: numeric segments numerically, others as text
 * (`1.10.0` > `1.9.3`, `2.0.0-rc1` < `2.0.0`). Returns a negative number, 0 or a positive number.
 *
 * @example
 * ```ts
 * compareVersions('1.10.0', '1.9.3') // > 0
 * ```
 */
export function compareVersions(a: string, b: string): number {
  const [aMain = '', aPre] = splitPre(a);
  const [bMain = '', bPre] = splitPre(b);
  const as = aMain.split(/[.+_]/);
  const bs = bMain.split(/[.+_]/);
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const c = compareSegment(as[i] ?? '0', bs[i] ?? '0');
    if (c !== 0) return c;
  }
  if (aPre === undefined && bPre === undefined) return 0;
  if (aPre === undefined) return 1;
  if (bPre === undefined) return -1;
  return compareSegment(aPre, bPre);
}

function splitPre(v: string): [string, string | undefined] {
  const s = v.trim().replace(/^v/i, '');
  const i = s.indexOf('-');
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function compareSegment(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Number(a) - Number(b);
  if (an) return 1;
  if (bn) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
