import * as ort from 'onnxruntime-node';
import { createSafetyScorer, type Encoder } from '../../api/src/encoder/index.ts';
import { ensureNsfwOnnx, NSFW_IMAGE_SIZE } from '../../api/src/encoder/nsfw-onnx.ts';
import { openSession } from '../../api/src/encoder/onnx-session.ts';
import { decodeRgb } from '../../api/src/encoder/preprocess.ts';
import { NSFW_INTRA_OP_THREADS } from '../../api/src/encoder/safety.ts';
import { batchOf } from './inputs.ts';
import { measure, type Row } from './measure.ts';

/**
 * The safety scorer (nsfwjs) at batch 1 and 16, its ONNX model alone, and the models' part of
 * indexing (the tiny embedding with the safety score started beside it). Closes its scorer.
 */
export async function safetyRows(tiny: Encoder, images: Buffer[], scale: number): Promise<Row[]> {
  const rows: Row[] = [];
  const safety = await createSafetyScorer({ encoder: tiny, maxBatch: 16 });
  const embedding = await tiny.encodeImage(images[0]!);
  const n = (x: number) => Math.max(5, Math.round(x * scale));
  rows.push(
    await measure('nsfwjs/MobileNetV2', 'safety', 1, n(60), (i) =>
      safety.score(images[i % images.length]!, embedding),
    ),
  );
  rows.push(
    await measure('nsfwjs/MobileNetV2', 'safety', 16, n(8), (i) =>
      Promise.all(batchOf(images, i, 16).map((bytes) => safety.score(bytes, embedding))),
    ),
  );
  // the model alone, on 224 x 224 pixels already decoded (on this thread: nothing else runs here)
  {
    const session = await openSession(await ensureNsfwOnnx(), 'nsfwjs MobileNetV2', {
      intraOpThreads: NSFW_INTRA_OP_THREADS,
    });
    const plane = NSFW_IMAGE_SIZE * NSFW_IMAGE_SIZE * 3;
    const pixels = new Uint8Array(16 * plane);
    for (let i = 0; i < 16; i++) {
      const rgb = await decodeRgb(images[i]!, {
        width: NSFW_IMAGE_SIZE,
        height: NSFW_IMAGE_SIZE,
        fit: 'fill',
        kernel: 'linear',
      });
      pixels.set(rgb.data, i * plane);
    }
    const run = (count: number) =>
      session.run({
        pixels: new ort.Tensor('uint8', pixels.subarray(0, count * plane), [
          count,
          NSFW_IMAGE_SIZE,
          NSFW_IMAGE_SIZE,
          3,
        ]),
      });
    rows.push(await measure('nsfwjs/MobileNetV2 ONNX model only', 'safety', 1, n(60), () => run(1)));
    rows.push(await measure('nsfwjs/MobileNetV2 ONNX model only', 'safety', 16, n(8), () => run(16)));
    await session.release();
  }
  // the models' part of indexing: the embedding, and the safety score that starts beside it
  rows.push(
    await measure('tiny-clip-v1 + nsfwjs, models only', 'index', 16, n(8), (i) =>
      Promise.all(batchOf(images, i, 16).map((bytes) => safety.score(bytes, tiny.encodeImage(bytes)))),
    ),
  );
  await safety.close();
  return rows;
}
