import { processIo } from './io.ts';
import { runCli } from './run.ts';

/** `npm run reindex -- ...`: an alias of `pixelfind reindex ...`. */
process.exitCode = await runCli(['reindex', ...process.argv.slice(2)], processIo());
