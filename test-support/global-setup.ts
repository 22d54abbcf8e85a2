/**
 * vitest globalSetup: stops the run at once, with one line on stderr, when the shared specs and
 * vectors are missing, instead of an ENOENT deep inside a suite.
 */

import { missingShared } from './shared.js';

export default function checkSharedFolder(): void {
  const problem = missingShared();
  if (problem === undefined) return;
  process.stderr.write(`${problem}\n`);
  process.exit(2);
}
