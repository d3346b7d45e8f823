/** `npm run config:docs`: rewrites README.md's configuration tables from the config schemas. */
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigDocs } from '../../api/src/config/docs.ts';
import { fromPackageRoot } from '../../search-cluster/src/index.ts';

const readmePath = fromPackageRoot('README.md');
const before = readFileSync(readmePath, 'utf8');
const after = withConfigDocs(before);
if (after !== before) writeFileSync(readmePath, after);
console.log(after === before ? 'README.md configuration is up to date' : 'wrote README.md configuration');
