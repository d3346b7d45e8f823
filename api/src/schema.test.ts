import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { printedSchema } from './schema.ts';

describe('schema/schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:print` after changing it)', () => {
    const snapshot = readFileSync(
      fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url)),
      'utf8',
    );
    expect(printedSchema()).toBe(snapshot);
  });
});
