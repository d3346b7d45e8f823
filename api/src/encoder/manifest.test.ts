import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTinyModel } from '../../../test/fixtures/tiny-clip/generate.ts';
import { useTempDir } from '../../../test/support/temp-dir.ts';
import { MANIFEST_FILE, ModelError, parseManifest, readManifest } from './manifest.ts';
import { getModelEntry, MODELS, manifestOf, resolveModel } from './registry.ts';

/** a manifest as loose JSON, to break */
type Manifest = { [key: string]: unknown } & {
  files?: Record<string, unknown>;
  io?: { text?: Record<string, unknown> };
  tokenizer?: Record<string, unknown>;
};

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error instanceof ModelError ? { code: error.code, message: error.message } : { error };
  }
  return null;
};

describe('model manifests', () => {
  it('ships a valid manifest for every known export, named after its version', () => {
    expect(Object.keys(MODELS).sort()).toEqual([
      'clip-vit-b32-fp32',
      'clip-vit-b32-q8',
      'mobileclip-s0',
      'siglip-base-patch16-224',
      'siglip2-base-patch16-224',
      'tiny-clip-broken',
      'tiny-clip-v1',
      'tiny-clip-v2',
    ]);
    for (const entry of Object.values(MODELS)) {
      if (!entry.testModel) expect(entry.download?.repo).toMatch(/\//);
      expect(entry.similarityFloor).toBeGreaterThan(-1);
    }
    expect(getModelEntry('siglip-base-patch16-224')).toMatchObject({
      family: 'siglip',
      scoring: { kind: 'sigmoid' },
      tokenizer: { padding: 'max_length', contextLength: 64 },
      io: { text: { attentionMask: null, output: 'pooler_output' } },
    });
    expect(getModelEntry('siglip2-base-patch16-224').download?.repo).toBe(
      'onnx-community/siglip2-base-patch16-224-ONNX',
    );
    expect(getModelEntry('mobileclip-s0').download?.repo).toBe('Xenova/mobileclip_s0');
  });

  it('fills defaults: CLIP io names, no pooling, bias 0', () => {
    const { io: _io, pooling: _pooling, ...rest } = manifestOf('tiny-clip-v1');
    const parsed = parseManifest({ ...rest, scoring: { kind: 'softmax', logitScale: 30 } }, 'x');
    expect(parsed.io.text).toEqual({
      inputIds: 'input_ids',
      attentionMask: 'attention_mask',
      output: 'text_embeds',
    });
    expect(parsed.pooling).toEqual({ text: 'none', vision: 'none' });
    expect(parsed.scoring.logitBias).toBe(0);
  });

  it.each([
    ['a missing field', (m: Manifest) => delete m.dimension, /dimension: .*number/],
    ['an unknown field', (m: Manifest) => (m.colour = 'red'), /colour|Unrecognized key/],
    [
      'a file outside the directory',
      (m: Manifest) => (m.files!.textModel = '../x.onnx'),
      /files\.textModel: must be a path inside/,
    ],
    ['an unknown family', (m: Manifest) => (m.family = 'blip'), /family: /],
    [
      'SigLIP scored by softmax',
      (m: Manifest) => (m.family = 'siglip'),
      /scoring\.kind: siglip scores with a sigmoid/,
    ],
    [
      'a bad version name',
      (m: Manifest) => (m.modelVersion = 'Tiny CLIP'),
      /modelVersion: lower-case letters/,
    ],
    ['a floor over 1', (m: Manifest) => (m.similarityFloor = 2), /similarityFloor: /],
  ])('rejects %s with MODEL_MANIFEST_INVALID naming the field', (_, edit, message) => {
    const manifest = structuredClone(manifestOf('tiny-clip-v1')) as unknown as Manifest;
    edit(manifest);
    const failure = codeOf(() => parseManifest(manifest, 'test.json'));
    expect(failure).toMatchObject({ code: 'MODEL_MANIFEST_INVALID' });
    expect(failure!.message).toMatch(/^MODEL_MANIFEST_INVALID: test\.json is not a valid model manifest: /);
    expect(failure!.message).toMatch(message);
  });

  it('rejects a SigLIP manifest with an attention mask or per-batch padding', () => {
    const siglip = structuredClone(manifestOf('siglip-base-patch16-224')) as unknown as Manifest;
    siglip.io!.text!.attentionMask = 'attention_mask';
    siglip.tokenizer!.padding = 'longest';
    const failure = codeOf(() => parseManifest(siglip, 's.json'));
    expect(failure!.message).toMatch(/tokenizer\.padding: siglip pads texts to the fixed context length/);
    expect(failure!.message).toMatch(/io\.text\.attentionMask: siglip text towers take no attention mask/);
  });

  describe('model directories', () => {
    const work = useTempDir('pixelfind-manifest-');

    it('PIXELFIND_MODEL may name a directory: its manifest is the model', async () => {
      const dir = await ensureTinyModel('tiny-siglip');
      const resolved = await resolveModel({ model: path.relative(process.cwd(), dir) });
      expect(resolved.entry.modelVersion).toBe('tiny-siglip');
      expect(resolved.entry.location).toEqual({ kind: 'directory', dir });
      expect(resolved.dir).toBe(dir);
    });

    it('says MODEL_MANIFEST_MISSING for a directory without a manifest', async () => {
      const dir = path.join(work(), 'empty');
      await mkdir(dir);
      await expect(readManifest(dir)).rejects.toMatchObject({
        code: 'MODEL_MANIFEST_MISSING',
        message: expect.stringMatching(/has no pixelfind-model\.json \(see docs\/models\.md/),
      });
      await expect(resolveModel({ model: `${dir}/` })).rejects.toMatchObject({
        code: 'MODEL_MANIFEST_MISSING',
      });
    });

    it('says MODEL_MANIFEST_INVALID for a manifest that is not JSON', async () => {
      const dir = path.join(work(), 'broken');
      await mkdir(dir);
      await writeFile(path.join(dir, MANIFEST_FILE), '{ "manifestVersion": ');
      await expect(readManifest(dir)).rejects.toMatchObject({
        code: 'MODEL_MANIFEST_INVALID',
        message: expect.stringMatching(/pixelfind-model\.json is not valid JSON/),
      });
    });

    it('says MODEL_UNKNOWN for a name that is neither a version nor a path', async () => {
      await expect(resolveModel({ model: 'clip-vit-h14' })).rejects.toMatchObject({
        code: 'MODEL_UNKNOWN',
        message: expect.stringMatching(/known models: .*siglip-base-patch16-224.*or give a model directory/),
      });
    });
  });
});
