/**
 * The models Pixelfind knows by name: the manifests shipped in `manifests/` (one
 * `pixelfind-model.json` per known export), keyed by model_version. The version is what every
 * vector, index, cache key and query log row carries: two manifests that could produce
 * different vectors (other weights, other quantisation, other preprocessing) must have
 * different versions. Any other model is a directory with its own manifest
 * (`PIXELFIND_MODEL=/path/to/dir`); see docs/models.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../../search-cluster/src/index.ts';
import {
  MANIFEST_FILE,
  ModelError,
  type ModelManifest,
  parseManifestText,
  readManifest,
} from './manifest.ts';

export type { ModelManifest } from './manifest.ts';

export type ModelFiles = ModelManifest['files'];
export type DownloadFile = NonNullable<ModelManifest['download']>['files'][number];

/** A manifest and where its files live. */
export type ModelEntry = ModelManifest & {
  location:
    | { kind: 'models-dir'; folder: string }
    | { kind: 'fixture'; dir: string }
    | { kind: 'directory'; dir: string };
};

const here = path.dirname(fileURLToPath(import.meta.url));
/** The shipped manifests (copied next to the compiled code by the build). */
export const MANIFESTS_DIR = path.join(here, 'manifests');
/** Where the generated test models live (`npm run fixtures:generate`). */
export const FIXTURES_DIR = path.join(PACKAGE_ROOT, 'test/fixtures/generated');

/** Directory the tiny test models are generated into by `npm run fixtures:generate`. */
export const TINY_CLIP_DIR = path.join(FIXTURES_DIR, 'tiny-clip');
export const TINY_CLIP_V2_DIR = path.join(FIXTURES_DIR, 'tiny-clip-v2');
export const TINY_CLIP_BROKEN_DIR = path.join(FIXTURES_DIR, 'tiny-clip-broken');

export const TINY_MODEL_VERSION = 'tiny-clip-v1';
/** the same colour semantics as v1 in another 96-d space (re-index tests) */
export const TINY_V2_MODEL_VERSION = 'tiny-clip-v2';
/** v1's contract with meaningless vectors (the evaluation gate must refuse it) */
export const TINY_BROKEN_MODEL_VERSION = 'tiny-clip-broken';
export const DEFAULT_REAL_MODEL_VERSION = 'clip-vit-b32-fp32';

function builtinEntry(manifest: ModelManifest, file: string): ModelEntry {
  if (!manifest.folder) {
    throw new ModelError('MODEL_MANIFEST_INVALID', `${file}: a shipped manifest needs a folder`);
  }
  const location: ModelEntry['location'] = manifest.testModel
    ? { kind: 'fixture', dir: path.join(FIXTURES_DIR, manifest.folder) }
    : { kind: 'models-dir', folder: manifest.folder };
  return { ...manifest, location };
}

function loadBuiltins(): Record<string, ModelEntry> {
  const models: Record<string, ModelEntry> = {};
  for (const name of readdirSync(MANIFESTS_DIR).sort()) {
    if (!name.endsWith('.json')) continue;
    const file = path.join(MANIFESTS_DIR, name);
    const manifest = parseManifestText(readFileSync(file, 'utf8'), file);
    if (`${manifest.modelVersion}.json` !== name) {
      throw new ModelError(
        'MODEL_MANIFEST_INVALID',
        `${file} holds ${manifest.modelVersion}: name it after its version`,
      );
    }
    models[manifest.modelVersion] = builtinEntry(manifest, file);
  }
  return models;
}

/** The shipped manifests, by model_version. */
export const MODELS: Record<string, ModelEntry> = loadBuiltins();

/** The shipped manifest of a built-in model, as a file would hold it (no location). */
export function manifestOf(modelVersion: string): ModelManifest {
  const { location: _location, ...manifest } = getModelEntry(modelVersion);
  return manifest;
}

export interface ResolveOptions {
  /**
   * PIXELFIND_MODEL: a model_version from MODELS, or a model directory (a path: it contains a
   * `/` or starts with `.`); default: the real model when its files are present, else the tiny one
   */
  model?: string | null;
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

/** True when PIXELFIND_MODEL names a directory rather than a registry entry. */
export const isModelPath = (model: string) =>
  model.includes('/') || model.includes(path.sep) || model.startsWith('.');

export function modelsDirFrom(options: Pick<ResolveOptions, 'modelsDir' | 'dataDir'> = {}): string {
  if (options.modelsDir) return path.resolve(options.modelsDir);
  return path.resolve(options.dataDir || './data', 'models');
}

export function modelDirOf(entry: ModelEntry, modelsDir: string): string {
  return entry.location.kind === 'models-dir'
    ? path.join(modelsDir, entry.location.folder)
    : entry.location.dir;
}

export function getModelEntry(modelVersion: string): ModelEntry {
  const entry = MODELS[modelVersion];
  if (!entry) {
    throw new ModelError(
      'MODEL_UNKNOWN',
      `Unknown model ${JSON.stringify(modelVersion)}; known models: ${Object.keys(MODELS).join(', ')} ` +
        `(or give a model directory holding a ${MANIFEST_FILE})`,
    );
  }
  return entry;
}

/** Reads a model directory's manifest: the entry of a model that is data only. */
export async function entryFromDirectory(dir: string): Promise<ModelEntry> {
  const absolute = path.resolve(dir);
  const manifest = await readManifest(absolute);
  return { ...manifest, location: { kind: 'directory', dir: absolute } };
}

/** Files of `entry` missing from `dir` (relative paths). */
export async function missingFiles(entry: ModelEntry, dir: string): Promise<string[]> {
  const files = Object.values(entry.files).filter((f): f is string => typeof f === 'string');
  if (!entry.labels.file.startsWith('builtin:')) files.push(entry.labels.file);
  const missing: string[] = [];
  for (const file of files) {
    await access(path.join(dir, file)).catch(() => missing.push(file));
  }
  return missing;
}

/** How to get a model's files, for error messages. */
export function howToGet(entry: ModelEntry): string {
  if (entry.location.kind === 'fixture') return 'run `npm run fixtures:generate`';
  if (entry.location.kind === 'directory')
    return `put them next to ${MANIFEST_FILE} in ${entry.location.dir}`;
  return `run \`npm run model:download -- ${entry.modelVersion}\` (needs internet)`;
}

/** Picks the model to run and its directory. */
export async function resolveModel(options: ResolveOptions = {}): Promise<ResolvedModel> {
  const modelsDir = modelsDirFrom(options);
  const chosen = options.model ?? undefined;
  if (options.entry || chosen) {
    const entry =
      options.entry ?? (isModelPath(chosen!) ? await entryFromDirectory(chosen!) : getModelEntry(chosen!));
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

/** Absolute path of a model's label vocabulary: built-in or in its directory. */
export function labelsFileOf(entry: Pick<ModelEntry, 'labels'>, dir: string): string {
  const { file } = entry.labels;
  if (file.startsWith('builtin:')) return path.join(here, 'labels', `${file.slice('builtin:'.length)}.txt`);
  return path.join(dir, file);
}
