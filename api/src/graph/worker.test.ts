import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../../test/support/backends.ts';
import { createTestApp, type TestApp } from '../../../test/support/test-app.ts';
import { nsfwOnnxPath } from '../encoder/nsfw-onnx.ts';

/**
 * The worker graph keeps the converted nsfwjs model in the configured models directory
 * (MODELS_DIR, default DATA_DIR/models), not in ./data/models under the working directory, which
 * a container's read-only root (and any process started elsewhere) cannot write.
 */
describe('worker graph: the safety model lives in the configured models directory', () => {
  let t: TestApp | undefined;
  const backendPromise = createEmbeddedBackend();
  afterAll(async () => {
    await t?.close();
    await (await backendPromise).dispose();
  });

  it('converts nsfwjs into DATA_DIR/models when MODELS_DIR is unset', async () => {
    t = await createTestApp(await backendPromise, {}, { nsfw: true });
    const worker = await t.services.createWorker();
    expect(worker).toBeDefined();
    const expected = nsfwOnnxPath(path.join(t.dataDir, 'models'));
    expect(existsSync(expected)).toBe(true);
    expect(await readdir(path.join(t.dataDir, 'models', 'nsfwjs'))).toEqual([path.basename(expected)]);
  });
});
