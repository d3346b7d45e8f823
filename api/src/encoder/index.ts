/**
 * The encoder: CLIP text and image embeddings (onnxruntime-node), zero-shot tags and safety
 * scores. See README.md in this folder.
 */
export { DynamicBatcher } from './batcher.ts';
export {
  createEncoder,
  type Encoder,
  type EncoderOptions,
  type Logger,
  type ModelInfo,
} from './encoder.ts';
export {
  FAMILIES,
  MANIFEST_FILE,
  ModelError,
  type ModelErrorCode,
  type ModelFamily,
  type ModelManifest,
  parseManifest,
  readManifest,
} from './manifest.ts';
export type { ExecutionProvider } from './onnx-session.ts';
export { decodeRgb, MAX_INPUT_PIXELS } from './preprocess.ts';
export {
  DEFAULT_REAL_MODEL_VERSION,
  entryFromDirectory,
  getModelEntry,
  isModelPath,
  MODELS,
  type ModelEntry,
  modelsDirFrom,
  resolveModel,
  TINY_BROKEN_MODEL_VERSION,
  TINY_MODEL_VERSION,
  TINY_V2_MODEL_VERSION,
} from './registry.ts';
export {
  createSafetyScorer,
  type NsfwClass,
  type NsfwModelName,
  nsfwSafety,
  type SafetyOptions,
  type SafetyScore,
  type SafetyScorer,
} from './safety.ts';
export { anyOf, labelProbabilities, type Scoring } from './scoring.ts';
export { MAX_TEXT_CHARS, normaliseText } from './text.ts';
export { type Tag, ZERO_SHOT_SOURCE, ZeroShotClassifier } from './zero-shot.ts';
