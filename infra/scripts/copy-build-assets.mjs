// Copies what the compiled code reads next to itself (worker scripts, label lists, the shipped
// model manifests) into dist/.
// Files read from the package root (schema/, the native addon, fixtures) are found through
// search-cluster/src/runtime/package-root.ts and are not copied.
import { cpSync, readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const ASSET = /\.(mjs|txt)$/;
/** model manifests: api/src/encoder/manifests/*.json */
const isManifest = (entry) => entry.name.endsWith('.json') && path.basename(entry.parentPath) === 'manifests';
const SOURCES = ['api/src', 'search-cluster/src'];

let copied = 0;
for (const source of SOURCES) {
  for (const entry of readdirSync(path.join(root, source), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !(ASSET.test(entry.name) || isManifest(entry))) continue;
    const from = path.join(entry.parentPath, entry.name);
    const relative = path.relative(root, from);
    cpSync(from, path.join(root, 'dist', relative));
    copied += 1;
  }
}
console.log(`copied ${copied} assets to dist/`);
