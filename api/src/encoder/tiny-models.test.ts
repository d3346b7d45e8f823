/**
 * The generated test models beside tiny-clip-v1, loaded through the normal model loading path:
 * tiny-clip-v2 (the same colour semantics in another space) and tiny-clip-broken (the same
 * contract, meaningless vectors). The lifecycle tests (re-index, gate) stand on these facts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { ensureTinyModels } from '../../../test/fixtures/tiny-clip/generate.ts';
import {
  colourCorpus,
  dot,
  type Loaded,
  loadWithCorpus,
  textQueryWinners,
} from '../../../test/support/encoder-corpus.ts';
import { TINY_BROKEN_MODEL_VERSION, TINY_MODEL_VERSION, TINY_V2_MODEL_VERSION } from './registry.ts';

/** share of text queries whose own image ranks first */
async function textTop1(model: Loaded): Promise<number> {
  const winners = await textQueryWinners(model);
  return winners.filter((w) => w.best === w.own).length / winners.length;
}

describe('tiny-clip-v2 and tiny-clip-broken', () => {
  const models: Record<string, Loaded> = {};

  beforeAll(async () => {
    await ensureTinyModels();
    const set = await colourCorpus();
    for (const model of [TINY_MODEL_VERSION, TINY_V2_MODEL_VERSION, TINY_BROKEN_MODEL_VERSION]) {
      models[model] = await loadWithCorpus(model, set);
    }
  });
  afterAll(() => Promise.all(Object.values(models).map((m) => m.encoder.close())));

  it('load through the registry with their own version and dimension', () => {
    expect(models[TINY_V2_MODEL_VERSION]!.encoder.modelVersion).toBe('tiny-clip-v2');
    expect(models[TINY_V2_MODEL_VERSION]!.encoder.dimension).toBe(96);
    expect(models[TINY_BROKEN_MODEL_VERSION]!.encoder.modelVersion).toBe('tiny-clip-broken');
    expect(models[TINY_BROKEN_MODEL_VERSION]!.encoder.dimension).toBe(64);
    for (const { corpus } of Object.values(models)) {
      for (const image of corpus) expect(Math.hypot(...image.embedding)).toBeCloseTo(1, 5);
    }
  });

  it('v2 understands colours as v1 does: every query finds its own image first', async () => {
    expect(await textTop1(models[TINY_MODEL_VERSION]!)).toBe(1);
    expect(await textTop1(models[TINY_V2_MODEL_VERSION]!)).toBe(1);
  });

  it('v2 keeps the similarities of v1 but not its coordinates', async () => {
    const v1 = models[TINY_MODEL_VERSION]!.corpus;
    const v2 = models[TINY_V2_MODEL_VERSION]!.corpus;
    // the same histograms under another orthonormal projection: the same cosine between images
    for (const [a, b] of [
      [0, 1],
      [2, 7],
      [5, 11],
    ] as const) {
      expect(dot(v2[a]!.embedding, v2[b]!.embedding)).toBeCloseTo(dot(v1[a]!.embedding, v1[b]!.embedding), 2);
    }
    // and v2's first 64 coordinates are not v1's vector
    const red1 = v1.find((c) => c.name === 'red')!.embedding;
    const red2 = v2.find((c) => c.name === 'red')!.embedding.slice(0, 64);
    expect(Math.abs(dot(red1, red2))).toBeLessThan(0.5);
  });

  it('broken serves unit vectors but finds almost nothing it is asked for', async () => {
    const broken = models[TINY_BROKEN_MODEL_VERSION]!;
    expect(await textTop1(broken)).toBeLessThan(0.3);
    // red, and red one level lighter: v1 sees the same image, broken two unrelated ones
    const [red, nearRed] = await Promise.all([
      makeColourImage({ colour: 'red' }),
      makeColourImage({ colour: [221, 21, 21] }),
    ]);
    const [v1a, v1b] = await models[TINY_MODEL_VERSION]!.encoder.encodeImages([red, nearRed]);
    const [ba, bb] = await broken.encoder.encodeImages([red, nearRed]);
    expect(dot(v1a!, v1b!)).toBeGreaterThan(0.99);
    expect(dot(ba!, bb!)).toBeLessThan(0.9);
  });
});
