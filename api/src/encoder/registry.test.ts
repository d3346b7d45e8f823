import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../../../test/support/temp-dir.ts';
import {
  DEFAULT_REAL_MODEL_VERSION,
  MODELS,
  modelsDirFrom,
  resolveModel,
  TINY_MODEL_VERSION,
} from './registry.ts';

describe('model registry', () => {
  const modelsDir = useTempDir('pixelfind-models-');

  it('falls back to the tiny model and says what to run to get the real one', async () => {
    const resolved = await resolveModel({ modelsDir: modelsDir() });
    expect(resolved.entry.modelVersion).toBe(TINY_MODEL_VERSION);
    expect(resolved.fallbackWarning).toMatch(/running the tiny test model tiny-clip-v1/);
    expect(resolved.fallbackWarning).toMatch(/npm run model:download/);
  });

  it('picks the real model by default once its files are present', async () => {
    const dir = path.join(modelsDir(), 'clip-vit-base-patch32');
    for (const file of Object.values(MODELS[DEFAULT_REAL_MODEL_VERSION]!.files)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), '');
    }
    const resolved = await resolveModel({ modelsDir: modelsDir() });
    expect(resolved.entry.modelVersion).toBe(DEFAULT_REAL_MODEL_VERSION);
    expect(resolved.dir).toBe(dir);
    expect(resolved.fallbackWarning).toBeNull();
  });

  it('lets PIXELFIND_MODEL choose, and rejects unknown versions', async () => {
    const resolved = await resolveModel({ model: TINY_MODEL_VERSION, modelsDir: modelsDir() });
    expect(resolved.entry.modelVersion).toBe(TINY_MODEL_VERSION);
    expect(resolved.fallbackWarning).toBeNull();
    await expect(resolveModel({ model: 'clip-vit-h14' })).rejects.toThrow(
      /Unknown model "clip-vit-h14"; known models: .*tiny-clip-v1/,
    );
  });

  it('finds models under MODELS_DIR, else DATA_DIR/models, else ./data/models', () => {
    expect(modelsDirFrom({ modelsDir: '/m', dataDir: '/d' })).toBe('/m');
    expect(modelsDirFrom({ dataDir: '/d' })).toBe('/d/models');
    expect(modelsDirFrom({})).toBe(path.resolve('data/models'));
  });

  it('gives every entry a distinct version and a sane description', () => {
    for (const [key, entry] of Object.entries(MODELS)) {
      expect(entry.modelVersion).toBe(key);
      expect(entry.dimension).toBeGreaterThan(0);
      expect(entry.labels.threshold).toBeGreaterThan(0);
      expect(entry.unsafeConcepts.concepts.length).toBeGreaterThan(0);
    }
  });
});
