import { processIo } from './io.ts';
import { runCli } from './run.ts';

/** `npm run keys -- ...`: kept as an alias of `pixelfind keys ...`. */
process.exitCode = await runCli(['keys', ...process.argv.slice(2)], processIo());
