import { isConfigError } from '../../../search-cluster/src/index.ts';
import { EVAL_USAGE, evalCommand } from './commands/eval.ts';
import { INGEST_USAGE, ingestCommand } from './commands/ingest.ts';
import { KEYS_USAGE, keysCommand } from './commands/keys.ts';
import { REINDEX_USAGE, reindexCommand } from './commands/reindex.ts';
import { SEARCH_USAGE, searchCommand } from './commands/search.ts';
import { CliFailure, CliUsageError } from './errors.ts';
import type { CliIo } from './io.ts';
import { ServerError } from './server-client.ts';

export const USAGE = `pixelfind <command> [options]

commands:
  keys create|list|revoke   manage API keys (admin key)
  search "text" [--image]   search by text, image or both
  ingest <dir|files...>     upload images (resumable, by sha256)
  eval <labelled dir>       precision@k and recall@k of folders as categories
  reindex start|status|promote|rollback|traffic|cancel   switch models (admin key)

Every command talks to the server at PIXELFIND_URL (or --url; default http://127.0.0.1:4000)
with the key in PIXELFIND_API_KEY (or --key). Exit status: 0 done, 1 failed, 2 usage.

${KEYS_USAGE}

${SEARCH_USAGE}

${INGEST_USAGE}

${EVAL_USAGE}

${REINDEX_USAGE}`;

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<void>> = {
  keys: keysCommand,
  search: searchCommand,
  ingest: ingestCommand,
  eval: evalCommand,
  reindex: reindexCommand,
};

/** Runs one CLI invocation; returns the exit status (0 done, 1 failed, 2 usage). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    (command ? io.out : io.err)(USAGE);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.err(`Unknown command ${command}\n\n${USAGE}`);
    return 2;
  }
  try {
    await run(args, io);
    return 0;
  } catch (error) {
    // a bad setting (PIXELFIND_URL, DATABASE_URL, ...) is a usage mistake: its lines name it
    if (error instanceof CliUsageError || isConfigError(error)) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof CliFailure || error instanceof ServerError) {
      io.err(`pixelfind ${command}: ${error.message}`);
      return 1;
    }
    // a coded error from a service (direct database mode) is an answer, not a crash
    const code = (error as { extensions?: { code?: string } }).extensions?.code;
    if (code) {
      io.err(`pixelfind ${command}: ${(error as Error).message} (${code})`);
      return 1;
    }
    io.err(
      `pixelfind ${command}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return 1;
  }
}
