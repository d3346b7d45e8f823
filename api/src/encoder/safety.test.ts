import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../../../test/fixtures/tiny-clip/generate.ts';
import { createEncoder, type Encoder } from './encoder.ts';
import { TINY_MODEL_VERSION } from './registry.ts';
import { createSafetyScorer, nsfwSafety, type SafetyScorer } from './safety.ts';

const quiet = { info: () => {}, warn: () => {} };

describe('safety scores', () => {
  let encoder: Encoder;
  let safety: SafetyScorer;

  // the nsfwjs model (ONNX, converted on first use) loads once for the whole file
  beforeAll(async () => {
    await ensureTinyClip();
    encoder = await createEncoder({ model: TINY_MODEL_VERSION, logger: quiet });
    safety = await createSafetyScorer({ encoder });
  });

  afterAll(async () => {
    await safety?.close();
    await encoder?.close();
  });

  async function scoreOf(spec: Parameters<typeof makeColourImage>[0]) {
    const bytes = await makeColourImage(spec);
    return safety.score(bytes, await encoder.encodeImage(bytes));
  }

  it('scores a plain red image as safe on both signals', async () => {
    const result = await scoreOf({ colour: 'red' });
    expect(result.concepts).toBeGreaterThan(0.99);
    expect(result.nsfw).toBeGreaterThan(0.5);
    expect(result.nsfw).toBeLessThanOrEqual(1);
    expect(result.score).toBe(Math.min(result.nsfw!, result.concepts));
    expect(result.modelVersion).toBe('tiny-clip-v1');
    expect(result.nsfwModel).toBe('nsfwjs/MobileNetV2');
    const classes = result.nsfwClasses!;
    expect(Object.keys(classes).sort()).toEqual(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    expect(Object.values(classes).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  });

  it('scores the unsafe concept of the tiny model (magenta) as unsafe', async () => {
    const result = await scoreOf({ colour: 'magenta', format: 'jpeg' });
    expect(result.concepts).toBeLessThan(0.05);
    expect(result.score).toBeLessThan(0.05);
    expect(result.conceptMatches[0]).toMatchObject({ concept: 'magenta' });
  });

  it('scores an image half magenta in between', async () => {
    const result = await scoreOf({ top: 'magenta', bottom: 'white' });
    expect(result.concepts).toBeGreaterThan(0.2);
    expect(result.concepts).toBeLessThan(0.8);
  });

  it('scores batches of concurrent images, each with its own result', async () => {
    const colours = [
      'red',
      'magenta',
      'green',
      'magenta',
      'cyan',
      'black',
      'white',
      'blue',
      'orange',
    ] as const;
    const results = await Promise.all(colours.map((colour) => scoreOf({ colour })));
    results.forEach((r, i) => {
      expect(r.concepts < 0.5).toBe(colours[i] === 'magenta');
      expect(r.nsfw).not.toBeNull();
    });
  });

  it('keeps the event loop free while nsfwjs runs', async () => {
    const bytes = await makeColourImage({ colour: 'blue', size: 512 });
    const embedding = await encoder.encodeImage(bytes);
    let last = performance.now();
    let worstLag = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last);
      last = now;
    }, 5);
    // rounds of 8 concurrent images: each round is one model call of a full batch (8), long
    // enough to see on the timer if it ran on the event loop
    const started = performance.now();
    for (let i = 0; i < 6; i++) {
      await Promise.all(Array.from({ length: 8 }, () => safety.score(bytes, embedding)));
    }
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // on the event loop, every model run would stall the timer for the whole run; on
    // onnxruntime's threads the timer keeps ticking (the bound is relative, so a busy CI machine is no flake)
    const perBatch = elapsed / 6;
    expect(perBatch).toBeGreaterThan(25);
    expect(worstLag).toBeLessThan(perBatch * 0.6);
  });

  it('rejects undecodable bytes and an embedding of another model', async () => {
    const embedding = await encoder.encodeText('red');
    await expect(safety.score(Buffer.from('nope'), embedding)).rejects.toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    await expect(safety.score(await makeColourImage(), new Float32Array(512))).rejects.toThrow(
      /Expected a 64-d tiny-clip-v1 embedding but received 512 values/,
    );
  });

  it('takes a pending embedding: the same score once it arrives, and its failure rejects the score', async () => {
    const bytes = await makeColourImage({ colour: 'magenta', format: 'jpeg' });
    const embedding = await encoder.encodeImage(bytes);
    const pending = await safety.score(bytes, encoder.encodeImage(bytes));
    expect(pending).toEqual(await safety.score(bytes, embedding));
    await expect(safety.score(bytes, Promise.reject(new Error('encode failed')))).rejects.toThrow(
      'encode failed',
    );
    // nsfwjs on undecodable bytes fails too: the embedding's error is the one reported
    await expect(
      safety.score(Buffer.from('nope'), Promise.reject(new Error('encode failed'))),
    ).rejects.toThrow('encode failed');
  });

  it('works without nsfwjs, from the concepts alone', async () => {
    const conceptsOnly = await createSafetyScorer({ encoder, nsfw: false, unsafeConcepts: ['cyan'] });
    const bytes = await makeColourImage({ colour: 'cyan' });
    const result = await conceptsOnly.score(bytes, await encoder.encodeImage(bytes));
    expect(result.nsfw).toBeNull();
    expect(result.nsfwClasses).toBeNull();
    expect(result.score).toBe(result.concepts);
    expect(result.concepts).toBeLessThan(0.05);
    await conceptsOnly.close();
  });
});

describe('nsfwSafety', () => {
  it('counts porn and hentai fully and sexy half', () => {
    expect(nsfwSafety({ Drawing: 0, Hentai: 0, Neutral: 1, Porn: 0, Sexy: 0 })).toBe(1);
    expect(nsfwSafety({ Drawing: 0, Hentai: 0.2, Neutral: 0.2, Porn: 0.4, Sexy: 0.2 })).toBeCloseTo(0.3);
    expect(nsfwSafety({ Drawing: 0, Hentai: 0, Neutral: 0, Porn: 1, Sexy: 0 })).toBe(0);
  });
});
