import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../../../test/fixtures/tiny-clip/generate.ts';
import {
  colourCorpus,
  dot,
  type EmbeddedImage,
  embedCorpus,
  quietLogger as quiet,
} from '../../../test/support/encoder-corpus.ts';
import { AppError } from '../errors.ts';
import { createEncoder, type Encoder } from './encoder.ts';
import { getModelEntry, TINY_MODEL_VERSION } from './registry.ts';

describe('encoder on the tiny CLIP model', () => {
  let encoder: Encoder;
  let corpus: EmbeddedImage[];

  const rank = (query: Float32Array) =>
    corpus
      .map((image) => ({ name: image.name, score: dot(query, image.embedding) }))
      .sort((a, b) => b.score - a.score);

  beforeAll(async () => {
    await ensureTinyClip();
    encoder = await createEncoder({ model: TINY_MODEL_VERSION, logger: quiet });
    corpus = await embedCorpus(encoder, await colourCorpus());
  });

  afterAll(() => encoder?.close());

  it('loads through the Hugging Face export layout and reports its model version', () => {
    expect(encoder.modelVersion).toBe('tiny-clip-v1');
    expect(encoder.dimension).toBe(64);
    expect(encoder.info.imageSize).toEqual({ height: 64, width: 64 });
    expect(encoder.info.contextLength).toBe(77);
  });

  it('returns unit vectors of the registry dimension', async () => {
    const [text, image] = [await encoder.encodeText('red'), corpus[0]!.embedding];
    for (const v of [text, image]) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(64);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
  });

  it('"red" ranks the red image above all others', async () => {
    const ranking = rank(await encoder.encodeText('red'));
    expect(ranking[0]!.name).toBe('red');
    expect(ranking[0]!.score).toBeGreaterThan(ranking[1]!.score + 0.1);
  });

  it('every colour word finds its solid image first', async () => {
    const colours = corpus.filter((c) => !c.name.includes('-'));
    const queries = await encoder.encodeTexts(colours.map((c) => c.query));
    queries.forEach((q, i) => {
      expect(rank(q)[0]!.name).toBe(colours[i]!.name);
    });
  });

  it('"red top blue bottom" ranks the red-top blue-bottom image first, above its mirror', async () => {
    const ranking = rank(await encoder.encodeText('red top blue bottom'));
    expect(ranking[0]!.name).toBe('red-top-blue-bottom');
    const mirror = ranking.findIndex((r) => r.name === 'blue-top-red-bottom');
    const sideways = ranking.findIndex((r) => r.name === 'red-left-blue-right');
    expect(mirror).toBeGreaterThan(sideways);
  });

  it('understands every two-colour query of the standard set, and filler words', async () => {
    const pairs = corpus.filter((c) => c.name.includes('-'));
    const queries = await encoder.encodeTexts(
      pairs.map((p) => `A photo: the ${p.query.replace(' ', ' half ')} half`),
    );
    queries.forEach((q, i) => {
      expect(rank(q)[0]!.name).toBe(pairs[i]!.name);
    });
  });

  it('an image query ranks images of the same colours first', async () => {
    const probe = await encoder.encodeImage(
      await makeColourImage({ top: 'green', bottom: 'yellow', size: 200, format: 'webp' }),
    );
    const ranking = rank(probe);
    expect(ranking[0]!.name).toBe('green-top-yellow-bottom');
    // then the other layouts of green and yellow, before any image with other colours
    expect(
      ranking
        .slice(1, 4)
        .map((r) => r.name)
        .sort(),
    ).toEqual(['green-left-yellow-right', 'yellow-left-green-right', 'yellow-top-green-bottom']);
  });

  it('gives the same vectors batched and one by one', async () => {
    const texts = ['red', 'blue top', 'magenta left cyan right', 'nothing known'];
    const batched = await encoder.encodeTexts(texts);
    const single = await Promise.all(texts.map((t) => encoder.encodeText(t)));
    batched.forEach((v, i) => {
      expect(dot(v, single[i]!)).toBeCloseTo(1, 5);
    });
  });

  it('tags a solid image with its colour and a two-colour image with both', async () => {
    const red = corpus.find((c) => c.name === 'red')!;
    const tags = await encoder.tagImage(red.embedding);
    expect(tags[0]).toMatchObject({ label: 'red', source: 'clip-zero-shot' });
    expect(tags[0]!.confidence).toBeGreaterThan(0.9);

    const pair = corpus.find((c) => c.name === 'black-top-white-bottom')!;
    const labels = (await encoder.tagImage(pair.embedding)).map((t) => t.label).sort();
    expect(labels).toEqual(['black', 'white']);
  });

  it('accepts emoji, non-Latin text and extra whitespace', async () => {
    const plain = await encoder.encodeText('red');
    expect(dot(await encoder.encodeText('  RED 🙂\n'), plain)).toBeCloseTo(1, 5);
    expect((await encoder.encodeText('赤い 🍎')).every(Number.isFinite)).toBe(true);
  });

  it('accepts exactly 1000 characters and cuts them to the context length', async () => {
    const v = await encoder.encodeText('red '.repeat(250).trim().padEnd(1000, 'd'));
    expect(v).toHaveLength(64);
  });

  it.each([
    ['empty text', '', /must not be empty/],
    ['whitespace only', ' \n\t ', /must not be empty/],
    ['text over 1000 characters', 'a'.repeat(1001), /at most 1000 characters but has 1001/],
    ['a control character', 'red\u0007', /control characters \(found U\+0007 at position 3\)/],
    ['a NUL byte', 'red\u0000blue', /control characters/],
    ['an unpaired surrogate', 'red\uD800', /not valid Unicode/],
  ])('rejects %s as BAD_USER_INPUT', async (_, text, message) => {
    const error = await encoder.encodeText(text).catch((e) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(message);
  });

  it('rejects a batch with one bad text without encoding the others', async () => {
    await expect(encoder.encodeTexts(['red', ''])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('rejects undecodable bytes as UNSUPPORTED_MEDIA_TYPE and keeps serving', async () => {
    const error = await encoder.encodeImage(Buffer.from('GIF89a but not really')).catch((e) => e);
    expect(error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    const ok = await encoder.encodeImage(await makeColourImage({ colour: 'red' }));
    expect(ok).toHaveLength(64);
  });

  it('encodes a 1x1 image, a 16-bit PNG and a CMYK JPEG by their colour', async () => {
    const [tiny, deep, cmyk] = await encoder.encodeImages([
      await makeColourImage({ colour: 'red', size: 1 }),
      await makeColourImage({ colour: 'cyan', encoding: 'rgb16' }),
      await makeColourImage({ colour: 'blue', encoding: 'cmyk' }),
    ]);
    expect(rank(tiny!)[0]!.name).toBe('red');
    expect(rank(deep!)[0]!.name).toBe('cyan');
    expect(rank(cmyk!)[0]!.name).toBe('blue');
  });
});

describe('loading a model directory', () => {
  let work: string;
  let tinyDir: string;

  beforeAll(async () => {
    tinyDir = await ensureTinyClip();
    work = await mkdtemp(path.join(os.tmpdir(), 'pixelfind-encoder-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  async function copyOfTiny(name: string): Promise<string> {
    const dir = path.join(work, name);
    await cp(tinyDir, dir, { recursive: true });
    return dir;
  }
  const load = (modelDir: string, entry = getModelEntry(TINY_MODEL_VERSION)) =>
    createEncoder({ entry, modelDir, logger: quiet, maxWaitMs: 0 });

  it('names the missing file and how to get it', async () => {
    const dir = await copyOfTiny('missing');
    await rm(path.join(dir, 'onnx/vision_model.onnx'));
    await expect(load(dir)).rejects.toThrow(
      /incomplete in .*missing onnx\/vision_model\.onnx\. To get it, run `npm run fixtures:generate`/,
    );
  });

  it('fails clearly on a corrupt ONNX file', async () => {
    const dir = await copyOfTiny('corrupt');
    await writeFile(path.join(dir, 'onnx/text_model.onnx'), 'not a model');
    await expect(load(dir)).rejects.toThrow(
      /Could not load the tiny-clip-v1 text model from .*text_model\.onnx/,
    );
  });

  it('fails clearly when the towers are swapped', async () => {
    const dir = await copyOfTiny('swapped');
    await cp(path.join(tinyDir, 'onnx/vision_model.onnx'), path.join(dir, 'onnx/text_model.onnx'));
    await expect(load(dir)).rejects.toThrow(
      /is not a CLIP export as its manifest describes: it takes \[pixel_values\]/,
    );
  });

  it('fails clearly on a broken tokenizer.json', async () => {
    const dir = await copyOfTiny('tokenizer');
    await writeFile(path.join(dir, 'tokenizer.json'), '{ "model": ');
    await expect(load(dir)).rejects.toThrow(/tokenizer\.json is not valid JSON/);
  });

  it('fails clearly when the preprocessor config is for another model', async () => {
    const dir = await copyOfTiny('preprocessor');
    await writeFile(
      path.join(dir, 'preprocessor_config.json'),
      JSON.stringify({ size: 224, crop_size: 224 }),
    );
    await expect(load(dir)).rejects.toThrow(/crops to 224x224 but tiny-clip-v1 expects 64x64/);
  });

  it('fails when the output dimension does not match the registry', async () => {
    const entry = {
      ...getModelEntry(TINY_MODEL_VERSION),
      modelVersion: 'tiny-clip-wrong-dim',
      dimension: 512,
    };
    await expect(load(tinyDir, entry)).rejects.toThrow(
      /are 64-dimensional but the model's manifest says 512/,
    );
  });
});
