import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromPackageRoot } from '../../../search-cluster/src/index.ts';
import { processVariables } from './config.ts';
import { withConfigDocs } from './docs.ts';

describe('README configuration section', () => {
  const readme = readFileSync(fromPackageRoot('README.md'), 'utf8');

  it('is what `npm run config:docs` generates from the schemas (run it after changing a variable)', () => {
    expect(withConfigDocs(readme)).toBe(readme);
  });

  it('lists every variable the API reads', () => {
    // the generated rows are padded to the column width
    for (const name of Object.keys(processVariables.api)) {
      expect(readme).toMatch(new RegExp(`\\| \`${name}\` +\\|`));
    }
  });
});
