/**
 * The models Pixelfind can run, keyed by model_version. The version is what every vector,
 * index, cache key and query log row carries: two entries that could produce different vectors
 * (other weights, other quantisation, other preprocessing) must have different versions.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../../search-cluster/src/index.ts';

export interface ModelFiles {
  /** text tower: input_ids (+ attention_mask) -> text_embeds */
  textModel: string;
  /** vision tower: pixel_values -> image_embeds */
  visionModel: string;
  tokenizer: string;
  /** optional: bos/eos/pad tokens and model_max_length */
  tokenizerConfig?: string;
  preprocessor: string;
}

export interface DownloadFile {
  path: string;
  /** pinned checksum; when absent the checksum the hub publishes for the file is used */
  sha256?: string;
}

export interface ModelEntry {
  modelVersion: string;
  name: string;
  description: string;
  /** embedding dimension; a model whose output differs fails to load */
  dimension: number;
  /** where the files live: a folder under the models dir, or the generated test fixture */
  location: { kind: 'models-dir'; folder: string } | { kind: 'fixture'; dir: string };
  /** paths relative to the model directory */
  files: ModelFiles;
  /** what preprocessor_config.json must say; a model directory that disagrees fails to load */
  preprocessing: { imageSize: number; mean: [number, number, number]; std: [number, number, number] };
  /** tokens per text including start and end token */
  contextLength: number;
  /** CLIP's learned temperature (exp(logit_scale)); ViT-B/32: 100 */
  logitScale: number;
  /** zero-shot tagging vocabulary (file next to this one) and the prompt around each label */
  labels: { file: string; template: string; threshold: number };
  /** concepts whose zero-shot probability lowers the safety score */
  unsafeConcepts: { concepts: string[]; template: string };
  /** true for the generated test model: search quality only on synthetic colour images */
  testModel: boolean;
  /** where `npm run model:download` fetches the files from */
  download?: { repo: string; revision: string; files: DownloadFile[] };
}

const repoRoot = PACKAGE_ROOT;

/** Directory the tiny test model is generated into by `npm run fixtures:generate`. */
export const TINY_CLIP_DIR = path.join(repoRoot, 'test/fixtures/generated/tiny-clip');
export const TINY_CLIP_V2_DIR = path.join(repoRoot, 'test/fixtures/generated/tiny-clip-v2');
export const TINY_CLIP_BROKEN_DIR = path.join(repoRoot, 'test/fixtures/generated/tiny-clip-broken');

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const hfClipFiles = (suffix: string): ModelFiles => ({
  textModel: `onnx/text_model${suffix}.onnx`,
  visionModel: `onnx/vision_model${suffix}.onnx`,
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  preprocessor: 'preprocessor_config.json',
});

const GENERAL_UNSAFE = {
  concepts: ['nudity', 'pornography', 'sexual content', 'graphic violence', 'gore', 'a dead body'],
  template: 'a photo of {}',
};

export const TINY_MODEL_VERSION = 'tiny-clip-v1';
/** the same colour semantics as v1 in another 96-d space (re-index tests) */
export const TINY_V2_MODEL_VERSION = 'tiny-clip-v2';
/** v1's contract with meaningless vectors (the evaluation gate must refuse it) */
export const TINY_BROKEN_MODEL_VERSION = 'tiny-clip-broken';
export const DEFAULT_REAL_MODEL_VERSION = 'clip-vit-b32-fp32';

/** What every ViT-B/32 export shares: 512-d, 224x224 input, 77-token context, CLIP's scale. */
const VIT_B32 = {
  dimension: 512,
  location: { kind: 'models-dir', folder: 'clip-vit-base-patch32' },
  preprocessing: { imageSize: 224, mean: CLIP_MEAN, std: CLIP_STD },
  contextLength: 77,
  logitScale: 100,
  labels: { file: 'labels/general.txt', template: 'a photo of {}', threshold: 0.1 },
  unsafeConcepts: GENERAL_UNSAFE,
  testModel: false,
} as const satisfies Partial<ModelEntry>;

export const MODELS: Record<string, ModelEntry> = {
  [DEFAULT_REAL_MODEL_VERSION]: {
    modelVersion: DEFAULT_REAL_MODEL_VERSION,
    name: 'CLIP ViT-B/32 (openai/clip-vit-base-patch32, ONNX export by Xenova), fp32',
    description: 'The real model: 512-d text and image embeddings, 224x224 input, 77-token context.',
    ...VIT_B32,
    files: hfClipFiles(''),
    download: {
      repo: 'Xenova/clip-vit-base-patch32',
      revision: 'main',
      files: [
        { path: 'onnx/text_model.onnx' },
        { path: 'onnx/vision_model.onnx' },
        { path: 'tokenizer.json' },
        { path: 'tokenizer_config.json' },
        { path: 'preprocessor_config.json' },
        { path: 'config.json' },
      ],
    },
  },
  'clip-vit-b32-q8': {
    modelVersion: 'clip-vit-b32-q8',
    name: 'CLIP ViT-B/32, 8-bit quantised ONNX export (Xenova)',
    description:
      'About 4x smaller and faster on CPU than fp32; its vectors are not interchangeable with fp32.',
    ...VIT_B32,
    files: hfClipFiles('_quantized'),
    download: {
      repo: 'Xenova/clip-vit-base-patch32',
      revision: 'main',
      files: [
        { path: 'onnx/text_model_quantized.onnx' },
        { path: 'onnx/vision_model_quantized.onnx' },
        { path: 'tokenizer.json' },
        { path: 'tokenizer_config.json' },
        { path: 'preprocessor_config.json' },
        { path: 'config.json' },
      ],
    },
  },
  [TINY_MODEL_VERSION]: {
    modelVersion: TINY_MODEL_VERSION,
    name: 'tiny CLIP-shaped test model (generated)',
    description:
      '64-d region colour histograms: knows the colours red green blue yellow orange purple black ' +
      'white magenta cyan and the halves top bottom left right; meaningful only on synthetic images.',
    dimension: 64,
    location: { kind: 'fixture', dir: TINY_CLIP_DIR },
    files: hfClipFiles(''),
    preprocessing: { imageSize: 64, mean: CLIP_MEAN, std: CLIP_STD },
    contextLength: 77,
    // lower than CLIP's 100: JPEG shifts colours a little, and two-colour images should get both tags
    logitScale: 30,
    labels: { file: 'labels/tiny-colours.txt', template: '{}', threshold: 0.2 },
    unsafeConcepts: { concepts: ['magenta'], template: '{}' },
    testModel: true,
  },
  [TINY_V2_MODEL_VERSION]: {
    modelVersion: TINY_V2_MODEL_VERSION,
    name: 'tiny CLIP-shaped test model v2 (generated)',
    description:
      'The colour semantics of tiny-clip-v1 in another vector space: 96-d, another projection. ' +
      'Its vectors are not comparable with v1 vectors.',
    dimension: 96,
    location: { kind: 'fixture', dir: TINY_CLIP_V2_DIR },
    files: hfClipFiles(''),
    preprocessing: { imageSize: 64, mean: CLIP_MEAN, std: CLIP_STD },
    contextLength: 77,
    logitScale: 30,
    labels: { file: 'labels/tiny-colours.txt', template: '{}', threshold: 0.2 },
    unsafeConcepts: { concepts: ['magenta'], template: '{}' },
    testModel: true,
  },
  [TINY_BROKEN_MODEL_VERSION]: {
    modelVersion: TINY_BROKEN_MODEL_VERSION,
    name: 'broken tiny CLIP-shaped test model (generated)',
    description:
      'The files, inputs and outputs of tiny-clip-v1 (64-d) with meaningless vectors: loads and ' +
      'serves, but finds nothing that matches.',
    dimension: 64,
    location: { kind: 'fixture', dir: TINY_CLIP_BROKEN_DIR },
    files: hfClipFiles(''),
    preprocessing: { imageSize: 64, mean: CLIP_MEAN, std: CLIP_STD },
    contextLength: 77,
    logitScale: 30,
    labels: { file: 'labels/tiny-colours.txt', template: '{}', threshold: 0.2 },
    unsafeConcepts: { concepts: ['magenta'], template: '{}' },
    testModel: true,
  },
};

export interface ResolveOptions {
  /** a model_version from MODELS (PIXELFIND_MODEL); default: the real model when its files are present, else the tiny one */
  model?: string;
  /** a model that is not in MODELS (tests, experiments); overrides `model` */
  entry?: ModelEntry;
  /** the model's directory, overriding the registry's location */
  modelDir?: string;
  /** where downloaded models live (MODELS_DIR); default `<dataDir>/models` */
  modelsDir?: string;
  /** DATA_DIR; default ./data */
  dataDir?: string;
}

export interface ResolvedModel {
  entry: ModelEntry;
  dir: string;
  /** set when the real model was wanted by default but is missing, so the tiny one runs */
  fallbackWarning: string | null;
}

export function modelsDirFrom(options: Pick<ResolveOptions, 'modelsDir' | 'dataDir'> = {}): string {
  if (options.modelsDir) return path.resolve(options.modelsDir);
  return path.resolve(options.dataDir || './data', 'models');
}

export function modelDirOf(entry: ModelEntry, modelsDir: string): string {
  return entry.location.kind === 'fixture' ? entry.location.dir : path.join(modelsDir, entry.location.folder);
}

export function getModelEntry(modelVersion: string): ModelEntry {
  const entry = MODELS[modelVersion];
  if (!entry) {
    throw new Error(
      `Unknown model ${JSON.stringify(modelVersion)}; known models: ${Object.keys(MODELS).join(', ')}`,
    );
  }
  return entry;
}

/** Files of `entry` missing from `dir` (relative paths). */
export async function missingFiles(entry: ModelEntry, dir: string): Promise<string[]> {
  const files = Object.values(entry.files).filter((f): f is string => typeof f === 'string');
  const missing: string[] = [];
  for (const file of files) {
    await access(path.join(dir, file)).catch(() => missing.push(file));
  }
  return missing;
}

/** How to get a model's files, for error messages. */
export function howToGet(entry: ModelEntry): string {
  if (entry.location.kind === 'fixture') return 'run `npm run fixtures:generate`';
  return `run \`npm run model:download -- ${entry.modelVersion}\` (needs internet)`;
}

/** Picks the model to run and its directory. */
export async function resolveModel(options: ResolveOptions = {}): Promise<ResolvedModel> {
  const modelsDir = modelsDirFrom(options);
  const chosen = options.model;
  if (options.entry || chosen) {
    const entry = options.entry ?? getModelEntry(chosen!);
    return {
      entry,
      dir: options.modelDir ? path.resolve(options.modelDir) : modelDirOf(entry, modelsDir),
      fallbackWarning: null,
    };
  }
  const real = getModelEntry(DEFAULT_REAL_MODEL_VERSION);
  const realDir = options.modelDir ? path.resolve(options.modelDir) : modelDirOf(real, modelsDir);
  const missing = await missingFiles(real, realDir);
  if (missing.length === 0) return { entry: real, dir: realDir, fallbackWarning: null };
  const tiny = getModelEntry(TINY_MODEL_VERSION);
  return {
    entry: tiny,
    dir: modelDirOf(tiny, modelsDir),
    fallbackWarning:
      `${real.name} not found in ${realDir} (missing ${missing.join(', ')}); running the tiny test model ` +
      `${tiny.modelVersion}, which only understands synthetic colour images. To get the real model, ` +
      `${howToGet(real)}, or set PIXELFIND_MODEL=${TINY_MODEL_VERSION} to silence this warning.`,
  };
}
