/**
 * The password of `otakit login`: `--password`, else `OTAKIT_PASSWORD`, else a prompt when stdin and
 * stderr are a terminal. Never an empty password, never a silent default.
 */
import { createInterface } from 'node:readline';
import { CliError } from './errors.js';

/** Where {@link resolvePassword} may prompt: a terminal's input and output. */
export interface PromptStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Reads a line from `input` after writing `question` to `output`, without echoing what is typed.
 */
export function promptHidden(question: string, streams: PromptStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = streams.output;
    // Echo nothing of what is typed once the question is out.
    const masked = new Proxy(output, {
      get(target, prop, receiver) {
        if (prop === 'write') {
          return (chunk: unknown, ...rest: unknown[]) =>
            muted ? true : (target.write as (...a: unknown[]) => boolean)(chunk, ...rest);
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const rl = createInterface({ input: streams.input, output: masked, terminal: true });
    rl.question(question, (answer) => {
      muted = false;
      output.write('\n');
      rl.close();
      resolve(answer);
    });
    muted = true;
    rl.once('SIGINT', () => {
      rl.close();
      reject(new CliError('ERR_CLI_INTERRUPTED', 'login interrupted', { exitCode: 130 }));
    });
  });
}

/**
 * The password: the flag's value, else `OTAKIT_PASSWORD`, else a prompt on a terminal.
 *
 * @throws {@link CliError} `ERR_CLI_PASSWORD` (exit 1) when the flag or variable is empty, when the
 *   prompt is answered with nothing, or when there is nothing to read it from (not a terminal).
 */
export async function resolvePassword(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  streams: PromptStreams = { input: process.stdin, output: process.stderr },
): Promise<string> {
  if (flag !== undefined) {
    if (flag === '') throw new CliError('ERR_CLI_PASSWORD', '--password is empty');
    return flag;
  }
  const fromEnv = env.OTAKIT_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!streams.input.isTTY || !streams.output.isTTY) {
    throw new CliError(
      'ERR_CLI_PASSWORD',
      'no password: pass --password, set OTAKIT_PASSWORD, or run on a terminal to be prompted',
    );
  }
  const answer = await promptHidden('Password: ', streams);
  if (answer === '') throw new CliError('ERR_CLI_PASSWORD', 'empty password');
  return answer;
}
