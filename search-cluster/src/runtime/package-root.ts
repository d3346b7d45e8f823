import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding Pixelfind's package.json, found by walking up from this module, so that
 * files outside the compiled tree (schema/, the native addon, test fixtures) are found both from
 * the sources (tsx, vitest) and from `dist/`.
 */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No package.json above ${start}`);
  }
}

/** A path inside the package. */
export const fromPackageRoot = (...parts: string[]) => path.join(PACKAGE_ROOT, ...parts);
