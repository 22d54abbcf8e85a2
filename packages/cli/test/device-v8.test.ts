/**
 * The V8 settings of `otakit device run` (src/commands/device-v8.ts), in a child `node` of their
 * own (V8 flags concern a whole process): set at run time as the CLI sets them, the idle setting
 * must keep a hot function in the interpreter, and the update setting must let V8 optimise it
 * again. V8's own optimisation status tells (`%GetOptimizationStatus`, bit 4: optimised).
 */

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEVICE_V8_FLAGS, UPDATE_V8_FLAGS } from '../src/commands/device-v8.js';

/** Sets each group of flags at run time, then calls a hot function until V8 optimises it (or gives up). */
const CHILD = `
const { setFlagsFromString } = require('node:v8');
for (const group of JSON.parse(process.argv[1])) for (const flag of group) setFlagsFromString(flag);
function hot(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; }
const values = Array.from({ length: 100 }, (_, i) => i);
let status = 0;
for (let round = 0; round < 200 && !(status & 16); round++) {
  for (let i = 0; i < 5000; i++) hot(values);
  status = %GetOptimizationStatus(hot);
}
process.stdout.write((status & 16) ? 'optimised' : 'interpreted');
`;

function tierAfter(groups: ReadonlyArray<readonly string[]>): string {
  return execFileSync(
    process.execPath,
    // Compiled on the main thread, so that the status is final when read.
    ['--allow-natives-syntax', '--no-concurrent-recompilation', '-e', CHILD, JSON.stringify(groups)],
    { encoding: 'utf8' },
  );
}

describe('device V8 settings', () => {
  it('keeps a hot function interpreted while idle, and optimises it once an update starts', () => {
    expect(tierAfter([])).toBe('optimised');
    expect(tierAfter([DEVICE_V8_FLAGS])).toBe('interpreted');
    expect(tierAfter([DEVICE_V8_FLAGS, UPDATE_V8_FLAGS])).toBe('optimised');
    // Why the update setting names the compilers: raising the tier alone does not bring them back.
    expect(tierAfter([DEVICE_V8_FLAGS, ['--max-opt=999']])).toBe('interpreted');
  });
});
