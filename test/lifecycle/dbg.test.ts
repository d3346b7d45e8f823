import { it } from 'vitest';
import { ensureTinyModels } from '/work/wt/life11/test/fixtures/tiny-clip/generate.ts';
import { createEmbeddedBackend } from '/work/wt/life11/test/support/backends.ts';
import { createTestApp } from '/work/wt/life11/test/support/test-app.ts';
import { seedLibrary, search, versions, WALK_ENV, WALK_OVERRIDES } from '/work/wt/life11/test/lifecycle/lifecycle-walk.ts';

it('dbg', async () => {
  await ensureTinyModels();
  console.log('models');
  const backend = await createEmbeddedBackend();
  const t = await createTestApp(backend, WALK_ENV, WALK_OVERRIDES);
  console.log('app');
  const lib = await seedLibrary(t).catch((e) => { console.log('seed failed', e); throw e; });
  console.log('seeded', await versions(t, lib));
  await t.close(); console.log('closed');
  await backend.dispose();
}, 100000);
