/** The CLI kernel (`src/shared`): the flag parsers, the password prompt and the failure printer. */

import { PassThrough } from 'node:stream';
import { ConflictError, ConnectionError, UnauthorizedError } from '@otakit/core';
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/shared/errors.js';
import { EXIT } from '../src/shared/exit-codes.js';
import { describeFailure, formatFailure } from '../src/shared/failure.js';
import { collect, parseDuration, parseIdentity, positiveNumber } from '../src/shared/flags.js';
import { refusePrivateKey } from '../src/shared/keys.js';
import { transportOptions } from '../src/shared/network.js';
import { resolvePassword } from '../src/shared/password.js';

describe('parseIdentity', () => {
  it('makes a repeated key a list in the order given, and keeps = in values', () => {
    const flags = ['mac=02:00:00:00:00:01', 'sku=box', 'mac=02:00:00:00:00:02', 'note=a=b'];
    expect(parseIdentity(flags)).toEqual({
      mac: ['02:00:00:00:00:01', '02:00:00:00:00:02'],
      sku: 'box',
      note: 'a=b',
    });
    expect(parseIdentity(['k=1', 'k=2', 'k=3'])).toEqual({ k: ['1', '2', '3'] });
  });

  it('refuses a pair without a key', () => {
    for (const bad of ['novalue', '=x']) {
      const err = (() => {
        try {
          parseIdentity([bad]);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).code).toBe('ERR_CLI_USAGE');
      expect((err as CliError).message).toContain('key=value');
    }
  });
});

describe('flag parsers', () => {
  it('collects repeated values in order', () => {
    expect(collect('b', collect('a'))).toEqual(['a', 'b']);
  });

  it('parses durations and positive numbers, refusing the rest', () => {
    expect(parseDuration('2s', '--x')).toBe(2000);
    expect(parseDuration('30m', '--x')).toBe(1_800_000);
    expect(parseDuration('250', '--x')).toBe(250);
    expect(() => parseDuration('soon', '--x')).toThrow(/--x wants a duration/);
    expect(positiveNumber('1.5', '--n')).toBe(1.5);
    for (const bad of ['0', '-1', '', 'x']) expect(() => positiveNumber(bad, '--n')).toThrow(CliError);
  });
});

describe('refusePrivateKey', () => {
  it('refuses every private key PEM label and accepts a public key', () => {
    for (const label of ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']) {
      expect(() => refusePrivateKey(`-----BEGIN ${label}-----\nAAAA\n`, '--pubkey', 'k.pem')).toThrow(
        /--pubkey k\.pem is a private key/,
      );
    }
    expect(() => refusePrivateKey('-----BEGIN PUBLIC KEY-----\nAAAA\n', '--pubkey', 'k.pem')).not.toThrow();
  });
});

describe('resolvePassword', () => {
  const tty = () => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = Object.assign(new PassThrough(), { isTTY: true });
    let shown = '';
    output.on('data', (d: Buffer) => {
      shown += d.toString();
    });
    return { input, output, shown: () => shown };
  };

  it('takes the flag, then OTAKIT_PASSWORD', async () => {
    expect(await resolvePassword('from-flag', { OTAKIT_PASSWORD: 'from-env' })).toBe('from-flag');
    expect(await resolvePassword(undefined, { OTAKIT_PASSWORD: 'from-env' })).toBe('from-env');
  });

  it('prompts on a terminal without echoing what is typed', async () => {
    const t = tty();
    const answer = resolvePassword(undefined, {}, t);
    t.input.write('s3cret\n');
    expect(await answer).toBe('s3cret');
    expect(t.shown()).toContain('Password: ');
    expect(t.shown()).not.toContain('s3cret');
  });

  it('refuses an empty answer, and does not prompt off a terminal', async () => {
    const t = tty();
    const answer = resolvePassword(undefined, {}, t);
    t.input.write('\n');
    await expect(answer).rejects.toMatchObject({ code: 'ERR_CLI_PASSWORD', message: 'empty password' });
    const pipe = { input: new PassThrough(), output: new PassThrough() };
    await expect(resolvePassword(undefined, { OTAKIT_PASSWORD: '' }, pipe)).rejects.toMatchObject({
      code: 'ERR_CLI_PASSWORD',
    });
  });
});

describe('describeFailure', () => {
  const api = { status: 0, method: 'GET', url: 'http://h/x', body: undefined };

  it('maps every kind of error to one line and one exit code from the table', () => {
    const usage = describeFailure(new CliError('ERR_CLI_USAGE', 'bad flag'));
    expect(usage).toEqual({ code: 'ERR_CLI_USAGE', message: 'bad flag', exitCode: EXIT.USAGE });
    expect(formatFailure(usage)).toBe('otakit: ERR_CLI_USAGE: bad flag\n');

    const refused = describeFailure(new UnauthorizedError({ ...api, status: 401 }));
    expect(refused.exitCode).toBe(EXIT.UNAVAILABLE);
    expect(refused.message).toContain('the server refused the token');
    const login = describeFailure(new UnauthorizedError({ ...api, status: 401 }), {
      unauthorizedHint: 'the server refused these credentials',
    });
    expect(login.message).toContain('the server refused these credentials');
    expect(login.message).not.toContain('token');

    expect(describeFailure(new ConflictError({ ...api, status: 409 })).exitCode).toBe(EXIT.UNAVAILABLE);
    const conn = describeFailure(
      new ConnectionError({ method: 'GET', url: 'http://h/', cause: new Error('x') }),
    );
    expect(conn).toMatchObject({ code: 'ERR_CONNECTION', exitCode: EXIT.UNAVAILABLE });
    expect(describeFailure(new Error('plain'))).toEqual({ code: 'ERR_CLI', message: 'plain', exitCode: 1 });
  });
});

describe('transportOptions', () => {
  it('uses the proxy variables only when one is set', async () => {
    expect(await transportOptions(undefined, {})).toEqual({});
    expect(await transportOptions(undefined, { HTTPS_PROXY: 'http://p:3128' })).toEqual({ proxy: 'env' });
    expect(await transportOptions(undefined, { http_proxy: 'http://p:3128' })).toEqual({ proxy: 'env' });
  });

  it('refuses a --ca file that is missing or holds no certificate', async () => {
    await expect(transportOptions('/nonexistent/ca.pem', {})).rejects.toMatchObject({ code: 'ERR_CLI_FILE' });
    await expect(transportOptions(new URL(import.meta.url).pathname, {})).rejects.toThrow(
      /no PEM certificate/,
    );
  });
});
