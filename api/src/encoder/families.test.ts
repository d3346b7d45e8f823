/**
 * Each model family on a tiny generated model with that family's input and output contract,
 * loaded by directory (its pixelfind-model.json): SigLIP (Unigram tokenizer, fixed-length
 * input without attention mask, pooler_output, squashed input, sigmoid scoring with a bias) and
 * an open_clip-style MobileCLIP export (other input and output names, fixed 77 tokens padded
 * with 0, no mean/std normalisation). CLIP itself: encoder.test.ts.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { ensureTinyModel } from '../../../test/fixtures/tiny-clip/generate.ts';
import {
  dot,
  type Loaded,
  loadWithCorpus,
  quietLogger as quiet,
  textQueryWinners,
} from '../../../test/support/encoder-corpus.ts';
import { createEncoder } from './encoder.ts';
import { MANIFEST_FILE } from './manifest.ts';
import { TINY_MODEL_VERSION } from './registry.ts';
import { createSafetyScorer } from './safety.ts';
import { TextTokenizer } from './tokenizer.ts';

/** a manifest as loose JSON, to break */
type LooseManifest = {
  io: { text: Record<string, unknown> };
  preprocessing: Record<string, unknown>;
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

async function everyQueryFindsItsImage(model: Loaded): Promise<void> {
  for (const { query, own, best } of await textQueryWinners(model))
    expect({ query, best }).toEqual({ query, best: own });
}
describe('SigLIP family (tiny-siglip)', () => {
  let dir: string;
  let model: Loaded;
  beforeAll(async () => {
    dir = await ensureTinyModel('tiny-siglip');
    model = await loadWithCorpus(dir);
  });
  afterAll(() => model?.encoder.close());

  it('loads from its directory with its manifest', () => {
    expect(model.encoder.modelVersion).toBe('tiny-siglip');
    expect(model.encoder.info.family).toBe('siglip');
    expect(model.encoder.dimension).toBe(80);
    expect(model.encoder.info.imageSize).toEqual({ height: 48, width: 48 });
    expect(model.encoder.info.contextLength).toBe(16);
  });

  it('pads every text to the fixed context length with the pad token, and feeds no mask', async () => {
    const tokenizer = await TextTokenizer.load(
      path.join(dir, 'tokenizer.json'),
      path.join(dir, 'tokenizer_config.json'),
      model.encoder.entry.tokenizer,
    );
    // SentencePiece pieces, `</s>` appended by the post-processor
    expect(tokenizer.encode('red top')).toEqual([3, 13, 1]);
    const batch = tokenizer.pad([tokenizer.encode('red'), tokenizer.encode('red top blue bottom')]);
    expect(batch.length).toBe(16);
    expect(Array.from(batch.inputIds.slice(0, 16), Number)).toEqual([3, 1, ...new Array(14).fill(1)]);
    expect(model.encoder.entry.io.text.attentionMask).toBeNull();
    // the graph's input is declared [batch, 16]: any other length would fail to run
    expect((await model.encoder.encodeTexts(['red', 'red top blue bottom'])).length).toBe(2);
  });

  it('every colour and layout query finds its own image first', () => everyQueryFindsItsImage(model));

  it('tags with a sigmoid per label and its bias: two colours can both be near certain', async () => {
    const image = model.corpus.find((c) => c.name === 'red-top-blue-bottom')!;
    const tags = await model.encoder.tagImage(image.embedding);
    expect(tags.map((t) => t.label).sort()).toEqual(['blue', 'red']);
    const { logitScale, logitBias } = model.encoder.entry.scoring;
    const red = await model.encoder.encodeText('red');
    const expected = sigmoid(logitScale * dot(red, image.embedding) + logitBias);
    expect(tags.find((t) => t.label === 'red')!.confidence).toBeCloseTo(expected, 6);
    // independent probabilities: they do not share a total of 1 as a softmax would
    const classifier = await model.encoder.createClassifier(['red', 'blue', 'green']);
    const p = classifier.probabilities(image.embedding);
    expect(p[0]! + p[1]!).toBeGreaterThan(1.2);
    expect(p[2]!).toBeLessThan(0.05);
  });

  it('scores safety with the sigmoid too: magenta is unsafe, red is safe', async () => {
    const safety = await createSafetyScorer({ encoder: model.encoder, nsfw: false });
    try {
      const [magenta, red] = await Promise.all(
        (['magenta', 'red'] as const).map(async (colour) => {
          const bytes = await makeColourImage({ colour });
          return safety.score(bytes, await model.encoder.encodeImage(bytes));
        }),
      );
      expect(magenta!.score).toBeLessThan(0.1);
      expect(red!.score).toBeGreaterThan(0.9);
      expect(magenta!.conceptMatches[0]!.probability).toBeCloseTo(1 - magenta!.concepts, 6);
    } finally {
      await safety.close();
    }
  });
});

describe('MobileCLIP family (tiny-mobileclip)', () => {
  let model: Loaded;
  beforeAll(async () => {
    model = await loadWithCorpus(await ensureTinyModel('tiny-mobileclip'));
  });
  afterAll(() => model?.encoder.close());

  it('loads an open_clip-style export: its own input and output names, no normalisation', () => {
    expect(model.encoder.info.family).toBe('mobileclip');
    expect(model.encoder.dimension).toBe(72);
    expect(model.encoder.entry.io.text).toEqual({
      inputIds: 'text',
      attentionMask: null,
      output: 'text_features',
    });
    expect(model.encoder.entry.preprocessing).toMatchObject({
      imageSize: 56,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    });
  });

  it('every colour and layout query finds its own image first', () => everyQueryFindsItsImage(model));

  it('tags with a softmax: the probabilities of a vocabulary sum to 1', async () => {
    const red = model.corpus.find((c) => c.name === 'red')!;
    const tags = await model.encoder.tagImage(red.embedding);
    expect(tags[0]!.label).toBe('red');
    const classifier = await model.encoder.createClassifier(['red', 'blue', 'green']);
    const p = classifier.probabilities(red.embedding);
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 9);
  });
});

describe('a manifest that does not match its files', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'pixelfind-families-'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  async function copyWith(
    name: string,
    version: Parameters<typeof ensureTinyModel>[0],
    edit: (m: LooseManifest) => void,
  ) {
    const dir = path.join(work, name);
    await cp(await ensureTinyModel(version), dir, { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
    edit(manifest);
    await writeFile(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest));
    return dir;
  }

  it('names the family and the inputs when the graph is not the export the manifest says', async () => {
    const dir = await copyWith('siglip-as-clip-names', 'tiny-siglip', (m) => {
      m.io.text.output = 'text_embeds';
    });
    await expect(createEncoder({ model: dir, logger: quiet })).rejects.toThrow(
      /is not a SigLIP export as its manifest describes: it takes \[input_ids\] and gives \[pooler_output\], expected input_ids -> text_embeds/,
    );
  });

  it('refuses a manifest naming inputs the graph does not have', async () => {
    // the MobileCLIP graph takes `text` only; a manifest naming input_ids does not fit it
    const dir = await copyWith('mobileclip-wrong-input', 'tiny-mobileclip', (m) => {
      m.io.text.inputIds = 'input_ids';
    });
    await expect(createEncoder({ model: dir, logger: quiet })).rejects.toThrow(
      /is not a MobileCLIP export as its manifest describes: it takes \[text\]/,
    );
  });

  it('fails clearly when the preprocessor config says another resize rule', async () => {
    const dir = await copyWith('siglip-cropping', 'tiny-siglip', (m) => {
      m.preprocessing.resize = 'shortest-edge-center-crop';
    });
    await expect(createEncoder({ model: dir, logger: quiet })).rejects.toThrow(
      /preprocessor_config\.json does not centre-crop but the manifest of tiny-siglip says resize shortest-edge-center-crop/,
    );
  });

  it('the tiny CLIP model is still the softmax family', async () => {
    const encoder = await createEncoder({ model: TINY_MODEL_VERSION, logger: quiet, maxWaitMs: 0 });
    try {
      expect(encoder.info.family).toBe('clip');
      expect(encoder.entry.scoring).toEqual({ kind: 'softmax', logitScale: 30, logitBias: 0 });
    } finally {
      await encoder.close();
    }
  });
});
