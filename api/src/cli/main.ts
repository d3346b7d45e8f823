#!/usr/bin/env node
import { processIo } from './io.ts';
import { runCli } from './run.ts';

/** `pixelfind` (bin) and `npm run cli -- ...`: see run.ts for the commands. */
process.exitCode = await runCli(process.argv.slice(2), processIo());
