import { Worker } from 'node:worker_threads';
import { DynamicBatcher } from './batcher.ts';
import type { Encoder } from './encoder.ts';
import { ensureNsfwOnnx, NSFW_CLASSES, NSFW_IMAGE_SIZE } from './nsfw-onnx.ts';
import type { SessionOptions } from './onnx-session.ts';
import { decodeRgb } from './preprocess.ts';
import { labelsFileOf, modelsDirFrom } from './registry.ts';
import { anyOf } from './scoring.ts';
import { readLabels, type ZeroShotClassifier } from './zero-shot.ts';

export type NsfwClass = (typeof NSFW_CLASSES)[number];
/** nsfwjs models that run here: the ones the converter turns into ONNX (nsfw-onnx.ts). */
export type NsfwModelName = 'MobileNetV2';

export interface SafetyOptions {
  /** the encoder whose embeddings `score` receives; its model's concepts and labels are used */
  encoder: Encoder;
  /** run nsfwjs; default true. Without it `nsfw` is null and only the concepts count. */
  nsfw?: boolean;
  /** nsfwjs model, bundled in its npm package and converted to ONNX; default MobileNetV2 */
  nsfwModel?: NsfwModelName;
  /** where the converted nsfwjs model is kept (converted on first use); default the registry's models dir */
  modelsDir?: string;
  /**
   * onnxruntime threads of the nsfwjs model (CPU only); default 1: the indexer runs nsfwjs beside
   * the CLIP encode and sharp's decoding, which keep the other cores busy, and one thread does
   * the same work in less CPU than two that wait on each other (bench/results/encode.md)
   */
  session?: Pick<SessionOptions, 'intraOpThreads' | 'allowSpinning'>;
  /** unsafe concepts for CLIP zero-shot; default the registry's (tiny model: magenta) */
  unsafeConcepts?: string[];
  /** prompt template for the concepts; default the registry's */
  conceptTemplate?: string;
  /** most images per nsfwjs call; default 8 */
  maxBatch?: number;
  /** longest wait for an nsfwjs batch to fill, ms; default 2 */
  maxWaitMs?: number;
}

export interface SafetyScore {
  /** combined safety in [0,1], 1 = safe: the lower of the parts */
  score: number;
  /** nsfwjs part in [0,1], 1 = safe: 1 - (Porn + Hentai + Sexy / 2); null when nsfwjs is off */
  nsfw: number | null;
  /** CLIP zero-shot part in [0,1], 1 = safe: 1 - probability of the unsafe concepts */
  concepts: number;
  /** nsfwjs class probabilities, or null */
  nsfwClasses: Record<NsfwClass, number> | null;
  /** each unsafe concept's probability, highest first */
  conceptMatches: { concept: string; probability: number }[];
  /** model_version of the embedding the concepts were compared with */
  modelVersion: string;
  /** e.g. nsfwjs/MobileNetV2, or null */
  nsfwModel: string | null;
}

export interface SafetyScorer {
  /**
   * The image's safety. The embedding may still be computing: nsfwjs needs only the bytes and
   * starts on them at once, so an indexer that passes the pending embedding runs nsfwjs and the
   * CLIP encode side by side.
   */
  score(bytes: Buffer, embedding: Float32Array | Promise<Float32Array>): Promise<SafetyScore>;
  close(): Promise<void>;
}

/** Safety of nsfwjs' class probabilities: porn and hentai count fully, "sexy" half. */
export function nsfwSafety(p: Record<NsfwClass, number>): number {
  return clamp01(1 - (p.Porn + p.Hentai + 0.5 * p.Sexy));
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

/** Default onnxruntime threads of the nsfwjs model (see SafetyOptions.session). */
export const NSFW_INTRA_OP_THREADS = 1;

type WorkerReply =
  | { type: 'ready'; loadMs: number }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; probabilities: number[][] }
  | { type: 'error'; id: number; message: string };

/**
 * nsfwjs' MobileNetV2, converted to ONNX (nsfw-onnx.ts), on onnxruntime in a worker thread
 * (onnxruntime-node's run() computes on its caller's thread: see nsfw-worker.mjs). A worker that
 * dies is replaced on the next call.
 */
class NsfwWorker {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private nextId = 1;
  private pending = new Map<
    number,
    { resolve: (rows: number[][]) => void; reject: (error: Error) => void }
  >();
  readonly size = NSFW_IMAGE_SIZE;

  constructor(
    readonly model: NsfwModelName,
    private readonly file: string,
    private readonly session: Pick<SessionOptions, 'intraOpThreads' | 'allowSpinning'>,
  ) {}

  static async open(
    model: NsfwModelName,
    modelsDir: string,
    session: Pick<SessionOptions, 'intraOpThreads' | 'allowSpinning'>,
  ): Promise<NsfwWorker> {
    if (model !== 'MobileNetV2') {
      throw new Error(
        `Expected nsfwModel MobileNetV2 (the one converted to ONNX) but received ${JSON.stringify(model)}`,
      );
    }
    const worker = new NsfwWorker(model, await ensureNsfwOnnx(modelsDir), session);
    try {
      await worker.start();
    } catch (error) {
      await worker.close();
      throw error;
    }
    return worker;
  }

  start(): Promise<void> {
    this.ready ??= new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./nsfw-worker.mjs', import.meta.url), {
        workerData: {
          file: this.file,
          size: this.size,
          classes: NSFW_CLASSES.length,
          intraOpThreads: this.session.intraOpThreads ?? NSFW_INTRA_OP_THREADS,
          allowSpinning: this.session.allowSpinning ?? false,
        },
      });
      this.worker = worker;
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          resolve();
        } else if (reply.type === 'failed') {
          reject(
            new Error(
              `Could not load the nsfwjs ${this.model} safety model from ${this.file}: ${reply.message}`,
            ),
          );
        } else {
          const waiter = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          if (reply.type === 'result') waiter?.resolve(reply.probabilities);
          else waiter?.reject(new Error(`nsfwjs failed: ${reply.message}`));
        }
      });
      const fail = (error: Error) => {
        reject(error);
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
        this.worker = null;
        this.ready = null;
      };
      worker.on('error', (error) => fail(new Error(`nsfwjs worker crashed: ${error.message}`)));
      worker.on('exit', (code) => fail(new Error(`nsfwjs worker exited with code ${code}`)));
    });
    return this.ready;
  }

  /** size x size x 3 RGB bytes per image in, one row of class probabilities (NSFW_CLASSES order) out. */
  async classify(pixels: Uint8Array[]): Promise<number[][]> {
    await this.start();
    const plane = this.size * this.size * 3;
    const joined = new Uint8Array(pixels.length * plane);
    pixels.forEach((p, i) => {
      if (p.length !== plane) throw new Error(`Expected ${plane} RGB bytes but received ${p.length}`);
      joined.set(p, i * plane);
    });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ type: 'classify', id, count: pixels.length, pixels: joined }, [
        joined.buffer,
      ]);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    if (worker) {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
  }
}

/**
 * Safety scores from two signals: nsfwjs (its MobileNetV2, converted to ONNX from the weights in
 * its npm package, on onnxruntime in a worker thread) and zero-shot against unsafe concepts with
 * the model family's scoring (scoring.ts): for CLIP a softmax over the concepts plus the model's
 * tag vocabulary (so "unsafe" has to beat ordinary labels), for SigLIP a sigmoid per concept.
 */
export async function createSafetyScorer(options: SafetyOptions): Promise<SafetyScorer> {
  const { encoder } = options;
  const { entry } = encoder;
  const concepts = options.unsafeConcepts ?? entry.unsafeConcepts.concepts;
  if (concepts.length === 0) throw new Error('Expected at least one unsafe concept');
  const template = options.conceptTemplate ?? entry.unsafeConcepts.template;
  const labelsFile = labelsFileOf(entry, encoder.info.dir);
  const references = (await readLabels(labelsFile)).filter((l) => !concepts.includes(l));

  const classifierPromise: Promise<ZeroShotClassifier> = encoder.createClassifier(
    [...concepts, ...references],
    template,
  );

  let nsfw: NsfwWorker | null = null;
  let batcher: DynamicBatcher<Uint8Array, number[]> | null = null;
  const classes: readonly NsfwClass[] = NSFW_CLASSES;
  if (options.nsfw ?? true) {
    const model = await NsfwWorker.open(
      options.nsfwModel ?? 'MobileNetV2',
      options.modelsDir ?? modelsDirFrom(),
      options.session ?? {},
    );
    nsfw = model;
    batcher = new DynamicBatcher((batch) => model.classify(batch), {
      maxBatch: options.maxBatch ?? 8,
      maxWaitMs: options.maxWaitMs ?? 2,
    });
  }
  const classifier = await classifierPromise;

  async function nsfwPart(bytes: Buffer): Promise<Record<NsfwClass, number> | null> {
    if (!nsfw || !batcher) return null;
    // decode and resize on the libuv pool (sharp); the model gets size x size RGB bytes and
    // scales them to [0,1] itself, as nsfwjs does (x / 255, no mean or deviation)
    const rgb = await decodeRgb(bytes, {
      width: nsfw.size,
      height: nsfw.size,
      fit: 'fill',
      kernel: 'linear',
    });
    const row = await batcher.push(new Uint8Array(rgb.data.buffer, rgb.data.byteOffset, rgb.data.length));
    return Object.fromEntries(classes.map((c, i) => [c, row[i] ?? 0])) as Record<NsfwClass, number>;
  }

  return {
    async score(bytes, pending) {
      const nsfwClassesPromise = nsfwPart(bytes);
      // awaited below, or dropped when the embedding fails first: not an unhandled rejection
      nsfwClassesPromise.catch(() => {});
      const embedding = await pending;
      if (embedding.length !== encoder.dimension) {
        throw new Error(
          `Expected a ${encoder.dimension}-d ${encoder.modelVersion} embedding but received ${embedding.length} values`,
        );
      }
      const probabilities = classifier.probabilities(embedding);
      const conceptMatches = concepts
        .map((concept, i) => ({ concept, probability: probabilities[i]! }))
        .sort((a, b) => b.probability - a.probability);
      const conceptSafety = clamp01(
        1 -
          anyOf(
            conceptMatches.map((m) => m.probability),
            entry.scoring,
          ),
      );
      const nsfwClasses = await nsfwClassesPromise;
      const nsfwScore = nsfwClasses ? nsfwSafety(nsfwClasses) : null;
      return {
        score: Math.min(conceptSafety, nsfwScore ?? 1),
        nsfw: nsfwScore,
        concepts: conceptSafety,
        nsfwClasses,
        conceptMatches,
        modelVersion: encoder.modelVersion,
        nsfwModel: nsfw ? `nsfwjs/${nsfw.model}` : null,
      };
    },
    async close() {
      await batcher?.close();
      await nsfw?.close();
    },
  };
}
