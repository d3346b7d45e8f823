import { afterAll, beforeAll, describe, it } from 'vitest';
import { ensureTinyModels } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import {
  type Library,
  seedLibrary,
  WALK_ENV,
  WALK_OVERRIDES,
  walkToBroken,
  walkToV2,
} from './lifecycle-walk.ts';

describe.each(backends)('model lifecycle ($name)', ({ create }) => {
  let backend: Backend;
  let t: TestApp;
  let lib: Library;
  beforeAll(async () => {
    await ensureTinyModels();
    backend = await create();
    t = await createTestApp(backend, WALK_ENV, WALK_OVERRIDES);
    lib = await seedLibrary(t);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
  });

  it('re-indexes to tiny-clip-v2 under search load, slices traffic, promotes, rolls back and retires with no failed query', async () => {
    await walkToV2(backend, t, lib);
  }, 180_000);

  it('the same walk to tiny-clip-broken is refused by the gate with the numbers', async () => {
    await walkToBroken(t, lib);
  }, 120_000);
});
