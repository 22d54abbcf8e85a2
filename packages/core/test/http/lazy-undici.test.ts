import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Loads the BUILT package in a fresh node (as errors-dist.test.ts does; CI builds before it tests):
// importing @otakit/core must not load undici (~10-20 MiB of RSS that artifact-only tools never use);
// the first request loads it. Whether it is loaded is read from the CommonJS module cache, which holds
// undici (a CommonJS package) however it was loaded; the request step checks that this observable works.
const builds = {
  esm: fileURLToPath(new URL('../../dist/index.js', import.meta.url)),
  cjs: fileURLToPath(new URL('../../dist/index.cjs', import.meta.url)),
};

const STEPS = `
const undiciLoaded = () =>
  Object.keys(require.cache).some((file) => /[\\\\/]node_modules[\\\\/]undici[\\\\/]/.test(file));
const steps = { imported: undiciLoaded() };
const unused = new core.HttpClient({ baseUrl: 'http://127.0.0.1:9' });
new core.HttpClient({ baseUrl: 'http://127.0.0.1:9', proxy: 'http://127.0.0.1:9', connections: 2 });
new core.HttpClient({ baseUrl: 'http://127.0.0.1:9', proxy: 'env', tls: { rejectUnauthorized: false } });
await unused.close();
steps.constructedAndClosed = undiciLoaded();
const { createServer } = require('node:http');
const server = createServer((_req, res) => res.end('{"ok":true}'));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const http = new core.HttpClient({ baseUrl: 'http://127.0.0.1:' + server.address().port });
steps.data = (await http.request({ method: 'GET', path: '/' })).data;
steps.requested = undiciLoaded();
await http.close();
server.close();
console.log(JSON.stringify(steps));
`;

const scripts = {
  esm: [
    "import { createRequire } from 'node:module';",
    'const require = createRequire(import.meta.url);',
    `const core = await import(${JSON.stringify(pathToFileURL(builds.esm).href)});`,
    STEPS,
  ].join('\n'),
  cjs: [
    '(async () => {',
    `const core = require(${JSON.stringify(builds.cjs)});`,
    STEPS,
    '})().catch((err) => { console.error(err); process.exitCode = 1; });',
  ].join('\n'),
};

describe('undici is loaded lazily', () => {
  it.each(['esm', 'cjs'] as const)(
    'the %s build loads it on the first request, not on import',
    async (build) => {
      if (!existsSync(builds[build])) {
        throw new Error(`${builds[build]} is missing: build @otakit/core first (npx pnpm@10 build)`);
      }
      const args = build === 'esm' ? ['--input-type=module', '-e', scripts.esm] : ['-e', scripts.cjs];
      const { stdout } = await promisify(execFile)(process.execPath, args, {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' },
      });
      expect(JSON.parse(stdout)).toEqual({
        imported: false,
        constructedAndClosed: false,
        data: { ok: true },
        requested: true,
      });
    },
  );
});
