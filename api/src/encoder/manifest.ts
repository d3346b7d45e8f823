/**
 * A model is data: a directory holding its Hugging Face files and `pixelfind-model.json`, the
 * manifest this file validates. The manifest says what the files cannot: which family the model
 * belongs to (how texts are padded, how scores are made), which graph inputs and outputs to use,
 * the preprocessing, the zero-shot vocabulary, the unsafe concepts and the calibrated similarity
 * floor. Format and how to add a model: docs/models.md.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

export const MANIFEST_FILE = 'pixelfind-model.json';

/** Why a model could not be resolved or its manifest read; `code` is stable, the message says the fix. */
export type ModelErrorCode =
  | 'MODEL_MANIFEST_MISSING'
  | 'MODEL_MANIFEST_INVALID'
  | 'MODEL_UNKNOWN'
  | 'MODEL_FILES_MISSING';

export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * Model families and what each means for the encoder:
 * - clip: CLIP (OpenAI, Xenova exports). Zero-shot probability = softmax over the labels of
 *   logitScale x cosine. Texts padded per batch, attention mask fed when the graph takes one.
 * - siglip / siglip2: probability = sigmoid(logitScale x cosine + logitBias) per label, no
 *   softmax. Texts padded to the fixed context length with the pad token and no attention
 *   mask (as trained). SigLIP's tokenizer is SentencePiece Unigram, SigLIP 2's is Gemma's BPE.
 * - mobileclip: MobileCLIP-style (open_clip) exports: softmax scoring like CLIP; texts padded to
 *   the fixed context length (open_clip pads with 0), no attention mask; images usually not
 *   mean/std normalised (mean 0, std 1).
 */
export const FAMILIES = ['clip', 'siglip', 'siglip2', 'mobileclip'] as const;
export type ModelFamily = (typeof FAMILIES)[number];

/** How a tower's output becomes one vector per input. */
export const POOLINGS = ['none', 'first', 'last', 'eos', 'mean'] as const;
export type Pooling = (typeof POOLINGS)[number];

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..'), {
    message: 'must be a path inside the model directory (relative, no "..")',
  });
const triple = z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]);
const probability = z.number().min(0).max(1);

const filesSchema = z
  .object({
    /** text tower ONNX */
    textModel: relativePath,
    /** vision tower ONNX */
    visionModel: relativePath,
    /** Hugging Face tokenizer.json */
    tokenizer: relativePath,
    /** optional: special tokens and model_max_length */
    tokenizerConfig: relativePath.optional(),
    /** optional: when given it must agree with `preprocessing` (catches a wrong directory) */
    preprocessor: relativePath.optional(),
  })
  .strict();

const ioSchema = z
  .object({
    text: z
      .object({
        inputIds: z.string().min(1).default('input_ids'),
        /** null: the graph takes no attention mask (SigLIP, MobileCLIP) */
        attentionMask: z.string().min(1).nullable().default('attention_mask'),
        output: z.string().min(1).default('text_embeds'),
      })
      .strict()
      .default({ inputIds: 'input_ids', attentionMask: 'attention_mask', output: 'text_embeds' }),
    vision: z
      .object({
        pixelValues: z.string().min(1).default('pixel_values'),
        output: z.string().min(1).default('image_embeds'),
      })
      .strict()
      .default({ pixelValues: 'pixel_values', output: 'image_embeds' }),
  })
  .strict();

const preprocessingSchema = z
  .object({
    /** side of the square the vision tower sees */
    imageSize: z.int().min(1).max(4096),
    /**
     * `shortest-edge-center-crop`: scale the shorter side to imageSize, keep the aspect ratio,
     * crop the centre square (CLIP, MobileCLIP). `squash`: resize to imageSize x imageSize
     * ignoring the aspect ratio (SigLIP).
     */
    resize: z.enum(['shortest-edge-center-crop', 'squash']),
    resample: z.enum(['nearest', 'bilinear', 'bicubic', 'lanczos']).default('bicubic'),
    /** multiplies 8-bit values before normalising; default 1/255 */
    rescaleFactor: z
      .number()
      .positive()
      .default(1 / 255),
    /** per channel; mean 0 / std 1 means no normalisation */
    mean: triple,
    std: triple.refine((s) => s.every((x) => x !== 0), { message: 'std must not contain 0' }),
  })
  .strict();

const tokenizerSchema = z
  .object({
    /** most tokens per text, special tokens included (CLIP 77, SigLIP 64) */
    contextLength: z.int().min(2).max(4096),
    /** `longest`: pad each batch to its longest text; `max_length`: always to contextLength */
    padding: z.enum(['longest', 'max_length']),
    /** pad token id; default the tokenizer config's pad_token, else the end token */
    padId: z.int().min(0).optional(),
    /** end token id, kept last when a text is cut; default the tokenizer config's eos_token */
    eosId: z.int().min(0).optional(),
    /** lower-case texts before tokenising (SigLIP 2 and open_clip were trained on lower case) */
    lowercase: z.boolean().default(false),
  })
  .strict();

const scoringSchema = z
  .object({
    /** softmax over labels (CLIP, MobileCLIP) or independent sigmoids (SigLIP) */
    kind: z.enum(['softmax', 'sigmoid']),
    /** exp(logit_scale) of the checkpoint: CLIP ViT-B/32 100 */
    logitScale: z.number().positive().max(1000),
    /** SigLIP's learned bias; 0 for softmax families */
    logitBias: z.number().finite().default(0),
  })
  .strict();

const downloadSchema = z
  .object({
    /** Hugging Face repository */
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name'),
    revision: z.string().min(1).default('main'),
    files: z
      .array(
        z
          .object({
            path: relativePath,
            sha256: z
              .string()
              .regex(/^[0-9a-f]{64}$/)
              .optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export const manifestSchema = z
  .object({
    manifestVersion: z.literal(1),
    /** what every vector, index, cache key and query log row carries */
    modelVersion: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "_" and "-", at most 64'),
    name: z.string().min(1),
    description: z.string().default(''),
    family: z.enum(FAMILIES),
    /** embedding dimension; a model whose output differs fails to load */
    dimension: z.int().min(1).max(16384),
    /** a generated test model: meaningful only on synthetic colour images */
    testModel: z.boolean().default(false),
    /** built-in manifests: the folder under MODELS_DIR the files live in */
    folder: z
      .string()
      .regex(/^[\w.-]+$/)
      .optional(),
    files: filesSchema,
    io: ioSchema.default({
      text: { inputIds: 'input_ids', attentionMask: 'attention_mask', output: 'text_embeds' },
      vision: { pixelValues: 'pixel_values', output: 'image_embeds' },
    }),
    /** how the output of each tower becomes one vector: `none` when it already is one ([batch, dim]) */
    pooling: z
      .object({ text: z.enum(POOLINGS).default('none'), vision: z.enum(POOLINGS).default('none') })
      .strict()
      .default({ text: 'none', vision: 'none' }),
    preprocessing: preprocessingSchema,
    tokenizer: tokenizerSchema,
    scoring: scoringSchema,
    labels: z
      .object({
        /** `builtin:<name>` (api/src/encoder/labels/<name>.txt) or a file in the model directory */
        file: z.string().min(1),
        /** prompt around each label, `{}` is the label */
        template: z.string().includes('{}'),
        /** lowest probability that makes a tag */
        threshold: probability,
      })
      .strict(),
    unsafeConcepts: z
      .object({ concepts: z.array(z.string().min(1)).min(1), template: z.string().includes('{}') })
      .strict(),
    /**
     * Cosine similarity under which a hit is not relevant, calibrated for this model (text
     * queries). Each model version carries its own: cosines of CLIP and SigLIP live on
     * different scales. The lifecycle's evaluation may calibrate a better one per version.
     */
    similarityFloor: z.number().min(-1).max(1),
    /** per-query cut: a text query keeps hits within this much similarity of its best hit */
    adaptiveMargin: z.number().min(0).max(2),
    /** where `npm run model:download` fetches the files */
    download: downloadSchema.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const issue = (pathTo: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path: pathTo, message });
    const sigmoid = m.family === 'siglip' || m.family === 'siglip2';
    if (sigmoid && m.scoring.kind !== 'sigmoid')
      issue(['scoring', 'kind'], `${m.family} scores with a sigmoid, not ${m.scoring.kind}`);
    if (!sigmoid && m.scoring.kind !== 'softmax')
      issue(['scoring', 'kind'], `${m.family} scores with a softmax, not ${m.scoring.kind}`);
    if (sigmoid && m.tokenizer.padding !== 'max_length')
      issue(['tokenizer', 'padding'], `${m.family} pads texts to the fixed context length: use max_length`);
    if (sigmoid && m.io.text.attentionMask !== null)
      issue(['io', 'text', 'attentionMask'], `${m.family} text towers take no attention mask: use null`);
    // per-batch padding moves the last position with the batch's longest text
    if (m.tokenizer.padding === 'longest' && m.pooling.text === 'last')
      issue(['pooling', 'text'], '`last` pooling needs max_length padding');
    if (!m.labels.file.startsWith('builtin:')) {
      const parsed = relativePath.safeParse(m.labels.file);
      if (!parsed.success)
        issue(['labels', 'file'], 'must be builtin:<name> or a path inside the model directory');
    }
  });

/** A validated manifest, defaults filled in. */
export type ModelManifest = z.output<typeof manifestSchema>;
/** What a manifest file may say (defaults optional). */
export type ModelManifestInput = z.input<typeof manifestSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates a parsed manifest; `source` names it in the error. */
export function parseManifest(json: unknown, source: string): ModelManifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    throw new ModelError(
      'MODEL_MANIFEST_INVALID',
      `${source} is not a valid model manifest: ${describeIssues(result.error)}`,
    );
  }
  return result.data;
}

/** Parses manifest text. */
export function parseManifestText(text: string, source: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelError(
      'MODEL_MANIFEST_INVALID',
      `${source} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return parseManifest(json, source);
}

/** Reads `<dir>/pixelfind-model.json`. */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new ModelError(
        'MODEL_MANIFEST_MISSING',
        `${dir} is not a model directory: it has no ${MANIFEST_FILE} (see docs/models.md for the format)`,
      );
    }
    throw error;
  });
  return parseManifestText(text, file);
}
