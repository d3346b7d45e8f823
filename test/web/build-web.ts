import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let built: Promise<void> | undefined;

/** `npm run build:web` once per test process, so the tests see the current source. */
export function buildWebApp(): Promise<void> {
  built ??= promisify(execFile)(
    process.execPath,
    [
      path.join(repoRoot, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'api/web/vite.config.ts',
      '--logLevel',
      'warn',
    ],
    { cwd: repoRoot },
  ).then(() => undefined);
  return built;
}
