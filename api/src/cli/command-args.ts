import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CliUsageError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A command's flags and positionals; a flag it does not know is a usage error showing `usage`. */
export function parseCommandArgs<const O extends Options>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (error) {
    throw new CliUsageError(`${(error as Error).message}\n${usage}`);
  }
}

/** The flags of every command that talks to a server: --url (PIXELFIND_URL), --key (PIXELFIND_API_KEY), --json. */
export const SERVER_FLAGS = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
} as const;
