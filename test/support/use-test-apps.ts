import { afterAll, beforeAll } from 'vitest';
import type { ServiceOverrides } from '../../api/src/services.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import type { Backend } from './backends.ts';
import { createTestApp, type TestApp } from './test-app.ts';

/** Opens one more app on the block's backend; it is closed with the block. */
export type OpenTestApp = (
  env?: Record<string, string>,
  overrides?: Omit<ServiceOverrides, 'db' | 'cache' | 'blobs'>,
) => Promise<TestApp>;

/**
 * For a describe block: before it, the tiny CLIP model, a fresh backend from `create` and
 * whatever `setUp` opens on it; after it, those apps closed (last first) and the backend disposed.
 */
export function useTestApps(
  create: () => Promise<Backend>,
  setUp: (open: OpenTestApp, backend: Backend) => Promise<void>,
  timeout = 60_000,
): void {
  let backend: Backend | undefined;
  const opened: TestApp[] = [];
  beforeAll(async () => {
    await ensureTinyClip();
    const own = await create();
    backend = own;
    await setUp(async (env, overrides) => {
      const app = await createTestApp(own, env, overrides);
      opened.push(app);
      return app;
    }, own);
  }, timeout);
  afterAll(async () => {
    for (const app of opened.reverse()) await app.close();
    await backend?.dispose();
  });
}
