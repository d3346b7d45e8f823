import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { DynamicBatcher } from './batcher.ts';
import type { ModelFamily } from './manifest.ts';
import { embeddingRows, expectedIo, FAMILY_NAMES, type IdsType, textFeeds } from './model-io.ts';
import { defaultIntraOpThreads, type ExecutionProvider, openSession } from './onnx-session.ts';
import {
  loadPreprocessConfig,
  outputSize,
  type PreprocessConfig,
  preprocessConfigOf,
  preprocessImage,
  preprocessorDisagreement,
} from './preprocess.ts';
import {
  howToGet,
  labelsFileOf,
  type ModelEntry,
  missingFiles,
  type ResolveOptions,
  resolveModel,
} from './registry.ts';
import { normaliseText } from './text.ts';
import { TextTokenizer, type TokenizedBatch } from './tokenizer.ts';
import { prompt, readLabels, type Tag, ZeroShotClassifier } from './zero-shot.ts';

/** The encoder's log lines (a child of the process logger). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

const silentLogger: Logger = { info() {}, warn() {} };

export interface EncoderOptions extends ResolveOptions {
  /** PIXELFIND_EXECUTION_PROVIDER; default cpu */
  executionProvider?: ExecutionProvider;
  /** threads per model call (PIXELFIND_ONNX_THREADS); default min(4, cores) */
  intraOpThreads?: number;
  /** let idle onnxruntime threads spin (PIXELFIND_ONNX_SPIN, see SessionOptions); default false */
  allowSpinning?: boolean;
  /** most texts or images per model call; default 16 */
  maxBatch?: number;
  /** longest wait for a batch to fill, ms; default 2 */
  maxWaitMs?: number;
  /** lowest zero-shot probability that makes a tag; default the registry's (tiny 0.2, ViT-B/32 0.1) */
  tagThreshold?: number;
  /** most tags per image; default 5 */
  maxTags?: number;
  /** default: silent */
  logger?: Logger;
}

export interface ModelInfo {
  modelVersion: string;
  name: string;
  /** clip, siglip, siglip2 or mobileclip: how texts are padded and scores made */
  family: ModelFamily;
  dimension: number;
  dir: string;
  testModel: boolean;
  /** why the tiny model runs instead of the real one, or null */
  fallbackWarning: string | null;
  executionProvider: ExecutionProvider;
  intraOpThreads: number;
  contextLength: number;
  imageSize: { height: number; width: number };
}

export interface Encoder {
  /** the model_version every vector from this encoder must carry */
  readonly modelVersion: string;
  readonly dimension: number;
  readonly info: ModelInfo;
  /** the model's manifest: labels, unsafe concepts, scoring, similarity floor */
  readonly entry: ModelEntry;
  /** L2-normalised text embedding; BAD_USER_INPUT for empty, too long or control-character text */
  encodeText(text: string): Promise<Float32Array>;
  encodeTexts(texts: string[]): Promise<Float32Array[]>;
  /** L2-normalised image embedding; UNSUPPORTED_MEDIA_TYPE when the bytes are not an image */
  encodeImage(bytes: Buffer): Promise<Float32Array>;
  encodeImages(bytes: Buffer[]): Promise<Float32Array[]>;
  /** zero-shot tags from the model's label vocabulary */
  tagImage(embedding: Float32Array): Promise<Tag[]>;
  /** a zero-shot classifier over other labels (embedded once, here) */
  createClassifier(labels: string[], template?: string): Promise<ZeroShotClassifier>;
  close(): Promise<void>;
}

class ClipEncoder implements Encoder {
  readonly modelVersion: string;
  readonly dimension: number;
  private readonly textBatcher: DynamicBatcher<number[], Float32Array>;
  private readonly imageBatcher: DynamicBatcher<Float32Array, Float32Array>;
  private labelClassifier: ZeroShotClassifier | null = null;
  private readonly pixelsPerImage: number;

  constructor(
    readonly info: ModelInfo,
    readonly entry: ModelEntry,
    private readonly tokenizer: TextTokenizer,
    private readonly preprocess: PreprocessConfig,
    private readonly textSession: ort.InferenceSession,
    private readonly visionSession: ort.InferenceSession,
    private readonly idsType: IdsType,
    private readonly tagThreshold: number,
    private readonly maxTags: number,
    batching: { maxBatch: number; maxWaitMs: number },
  ) {
    this.modelVersion = info.modelVersion;
    this.dimension = info.dimension;
    this.pixelsPerImage = 3 * info.imageSize.height * info.imageSize.width;
    this.textBatcher = new DynamicBatcher((batch) => this.runText(batch), batching);
    this.imageBatcher = new DynamicBatcher((batch) => this.runVision(batch), batching);
  }

  private async runText(batch: number[][]): Promise<Float32Array[]> {
    const tokens = this.tokenizer.pad(batch);
    const io = this.entry.io.text;
    const feeds = textFeeds(tokens, io, this.idsType, this.textSession.inputNames);
    const out = await this.textSession.run(feeds, [io.output]);
    return this.rows('text', out[io.output]!, batch.length, tokens);
  }

  private async runVision(batch: Float32Array[]): Promise<Float32Array[]> {
    const { height, width } = this.info.imageSize;
    const pixels = new Float32Array(batch.length * this.pixelsPerImage);
    batch.forEach((image, i) => {
      pixels.set(image, i * this.pixelsPerImage);
    });
    const io = this.entry.io.vision;
    const out = await this.visionSession.run(
      { [io.pixelValues]: new Tensor('float32', pixels, [batch.length, 3, height, width]) },
      [io.output],
    );
    return this.rows('vision', out[io.output]!, batch.length);
  }

  /** One normalised embedding per input from a tower's output (pooled by the manifest's rule). */
  private rows(
    tower: 'text' | 'vision',
    output: ort.Tensor,
    count: number,
    tokens: TokenizedBatch | null = null,
  ): Float32Array[] {
    const what = `${this.modelVersion} ${this.entry.io[tower].output}`;
    const eosId = tokens ? this.tokenizer.eosId : null;
    return embeddingRows(output, count, this.dimension, this.entry.pooling[tower], what, tokens, eosId);
  }

  encodeText(text: string): Promise<Float32Array> {
    try {
      return this.textBatcher.push(this.tokenizer.encode(normaliseText(text)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  encodeTexts(texts: string[]): Promise<Float32Array[]> {
    try {
      return this.textBatcher.pushMany(texts.map((t) => this.tokenizer.encode(normaliseText(t))));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async encodeImage(bytes: Buffer): Promise<Float32Array> {
    return this.imageBatcher.push(await preprocessImage(bytes, this.preprocess));
  }

  async encodeImages(bytes: Buffer[]): Promise<Float32Array[]> {
    const tensors = await Promise.all(bytes.map((b) => preprocessImage(b, this.preprocess)));
    return this.imageBatcher.pushMany(tensors);
  }

  async createClassifier(labels: string[], template = '{}'): Promise<ZeroShotClassifier> {
    const embeddings = await this.encodeTexts(labels.map((l) => prompt(template, l)));
    return new ZeroShotClassifier(labels, embeddings, this.entry.scoring);
  }

  /** Label embeddings, computed once at start. */
  async loadLabels(): Promise<void> {
    const labels = await readLabels(labelsFileOf(this.entry, this.info.dir));
    this.labelClassifier = await this.createClassifier(labels, this.entry.labels.template);
  }

  async tagImage(embedding: Float32Array): Promise<Tag[]> {
    if (!this.labelClassifier) await this.loadLabels();
    return this.labelClassifier!.tags(embedding, this.tagThreshold, this.maxTags);
  }

  /** First calls are slow (allocations, kernel selection): pay for them before serving. */
  async warmUp(): Promise<void> {
    await this.encodeText('a photo');
    const { height, width } = this.info.imageSize;
    await this.imageBatcher.push(new Float32Array(3 * height * width));
  }

  async close(): Promise<void> {
    await Promise.all([this.textBatcher.close(), this.imageBatcher.close()]);
    await Promise.all([this.textSession.release(), this.visionSession.release()]);
  }
}

/**
 * Loads a model (its manifest + Hugging Face export layout), opens both sessions once, warms
 * them up and embeds the label vocabulary, so the first real call is not a cold one. Fails with
 * a clear Error when a file is missing or unreadable, the towers' inputs or outputs are not the
 * ones the manifest names, or the output dimension differs from the manifest.
 */
export async function createEncoder(options: EncoderOptions = {}): Promise<Encoder> {
  const logger = options.logger ?? silentLogger;
  const { entry, dir, fallbackWarning } = await resolveModel(options);
  if (fallbackWarning) logger.warn(fallbackWarning);

  const missing = await missingFiles(entry, dir);
  if (missing.length > 0) {
    throw new Error(
      `Model ${entry.modelVersion} is incomplete in ${dir}: missing ${missing.join(', ')}. To get it, ${howToGet(entry)}.`,
    );
  }
  const file = (relative: string) => path.join(dir, relative);
  const executionProvider = options.executionProvider ?? 'cpu';
  const intraOpThreads = options.intraOpThreads;
  const allowSpinning = options.allowSpinning ?? false;
  const sessionOptions = { executionProvider, allowSpinning, ...(intraOpThreads ? { intraOpThreads } : {}) };

  const preprocess = preprocessConfigOf(entry.preprocessing);
  if (entry.files.preprocessor) {
    const preprocessorFile = file(entry.files.preprocessor);
    const disagreement = preprocessorDisagreement(
      entry.preprocessing,
      await loadPreprocessConfig(preprocessorFile),
      entry.modelVersion,
    );
    if (disagreement) throw new Error(`${preprocessorFile} ${disagreement}`);
  }
  const tokenizer = await TextTokenizer.load(
    file(entry.files.tokenizer),
    entry.files.tokenizerConfig ? file(entry.files.tokenizerConfig) : null,
    entry.tokenizer,
  );
  const [textSession, visionSession] = await Promise.all([
    openSession(file(entry.files.textModel), `${entry.modelVersion} text model`, sessionOptions),
    openSession(file(entry.files.visionModel), `${entry.modelVersion} vision model`, sessionOptions),
  ]);
  try {
    const io = expectedIo(entry);
    const expect = (
      session: ort.InferenceSession,
      what: string,
      tower: { required: string[]; optional?: string[]; output: string },
    ) => {
      const known = [...tower.required, ...(tower.optional ?? [])];
      const lacking = tower.required.filter((i) => !session.inputNames.includes(i));
      // an input we would not feed (an attention mask the manifest says the family has none of)
      const unfed = session.inputNames.filter((i) => !known.includes(i));
      if (lacking.length > 0 || unfed.length > 0 || !session.outputNames.includes(tower.output)) {
        throw new Error(
          `${what} is not a ${FAMILY_NAMES[entry.family]} export as its manifest describes: it takes ` +
            `[${session.inputNames.join(', ')}] and gives [${session.outputNames.join(', ')}], ` +
            `expected ${known.join(', ')} -> ${tower.output}`,
        );
      }
    };
    expect(textSession, file(entry.files.textModel), io.text);
    expect(visionSession, file(entry.files.visionModel), io.vision);
    const idsMeta = textSession.inputMetadata?.[textSession.inputNames.indexOf(entry.io.text.inputIds)];
    const idsType = idsMeta?.isTensor && idsMeta.type === 'int32' ? 'int32' : 'int64';

    const info: ModelInfo = {
      modelVersion: entry.modelVersion,
      name: entry.name,
      family: entry.family,
      dimension: entry.dimension,
      dir,
      testModel: entry.testModel,
      fallbackWarning,
      executionProvider,
      intraOpThreads: intraOpThreads ?? defaultIntraOpThreads(),
      contextLength: tokenizer.contextLength,
      imageSize: outputSize(preprocess),
    };
    const encoder = new ClipEncoder(
      info,
      entry,
      tokenizer,
      preprocess,
      textSession,
      visionSession,
      idsType,
      options.tagThreshold ?? entry.labels.threshold,
      options.maxTags ?? 5,
      { maxBatch: options.maxBatch ?? 16, maxWaitMs: options.maxWaitMs ?? 2 },
    );
    try {
      await encoder.warmUp();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Model ${entry.modelVersion} in ${dir} failed its first run: ${reason}`);
    }
    await encoder.loadLabels();
    logger.info('model loaded', {
      modelVersion: entry.modelVersion,
      dimension: entry.dimension,
      dir,
      executionProvider,
      threads: info.intraOpThreads,
    });
    return encoder;
  } catch (error) {
    await Promise.allSettled([textSession.release(), visionSession.release()]);
    throw error;
  }
}
