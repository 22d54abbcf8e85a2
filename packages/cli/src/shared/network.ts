/**
 * What every networked command passes to its client: the proxy from `HTTPS_PROXY`/`HTTP_PROXY`/
 * `NO_PROXY` (core's `proxy: 'env'`) and the CA bundle of `--ca FILE`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError } from './errors.js';

/** The transport options a command gives `ManagementClient` or `DeviceClient`. */
export interface TransportOptions {
  proxy?: 'env';
  tls?: { ca: string };
}

const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'];

/** Adds `--ca FILE` to a networked command. */
export function withCa(cmd: Command): Command {
  return cmd.option(
    '--ca <file>',
    'trust the CA certificates in this PEM file (HTTPS_PROXY/NO_PROXY are honoured)',
  );
}

/**
 * The proxy (when one of HTTPS_PROXY, HTTP_PROXY or their lowercase forms is set; NO_PROXY then
 * applies) and the `--ca` file's certificates.
 *
 * @throws {@link CliError} `ERR_CLI_FILE` when the CA file cannot be read or holds no certificate.
 */
export async function transportOptions(
  ca: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<TransportOptions> {
  const options: TransportOptions = {};
  if (PROXY_VARIABLES.some((name) => (env[name] ?? '') !== '')) options.proxy = 'env';
  if (ca !== undefined) {
    let pem: string;
    try {
      pem = await readFile(ca, 'utf8');
    } catch (cause) {
      throw new CliError('ERR_CLI_FILE', `cannot read --ca ${ca}: ${(cause as Error).message}`, { cause });
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CliError('ERR_CLI_FILE', `--ca ${ca} holds no PEM certificate`);
    }
    options.tls = { ca: pem };
  }
  return options;
}
