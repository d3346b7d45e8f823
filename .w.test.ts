import { expect, test } from 'vitest';

test('w', async () => {
  await import('./.w-main.ts');
  await new Promise((r) => setTimeout(r, 1500));
});
