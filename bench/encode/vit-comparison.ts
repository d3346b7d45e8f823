import * as ort from 'onnxruntime-node';
import { ensureNsfwOnnx, NSFW_IMAGE_SIZE } from '../../api/src/encoder/nsfw-onnx.ts';
import { openSession } from '../../api/src/encoder/onnx-session.ts';
import { decodeRgb, preprocessConfigOf, preprocessImage } from '../../api/src/encoder/preprocess.ts';
import { getModelEntry } from '../../api/src/encoder/registry.ts';
import { percentile } from '../support/stats.ts';
import { ensureVitB32Model, VIT_B32, vitB32MultiplyAdds } from '../support/vit-b32-shape.ts';

export type VitComparison = Awaited<ReturnType<typeof vitComparison>>;

/**
 * The safety model against a ViT-B/32 image encode: one onnxruntime thread each, same process,
 * calls interleaved so that both see the same machine.
 */
export async function vitComparison(image: Buffer, scale: number) {
  const oneThread = { intraOpThreads: 1 };
  const vitFile = await ensureVitB32Model();
  const nsfwSession = await openSession(await ensureNsfwOnnx(), 'nsfwjs MobileNetV2', oneThread);
  const vitSession = await openSession(vitFile, 'ViT-B/32 image tower (random weights)', oneThread);
  const rgb = await decodeRgb(image, {
    width: NSFW_IMAGE_SIZE,
    height: NSFW_IMAGE_SIZE,
    fit: 'fill',
    kernel: 'linear',
  });
  const nsfwFeed = {
    pixels: new ort.Tensor('uint8', new Uint8Array(rgb.data), [1, NSFW_IMAGE_SIZE, NSFW_IMAGE_SIZE, 3]),
  };
  const clipRules = getModelEntry('clip-vit-b32-fp32').preprocessing;
  const vitFeed = {
    pixel_values: new ort.Tensor('float32', await preprocessImage(image, preprocessConfigOf(clipRules)), [
      1,
      3,
      VIT_B32.imageSize,
      VIT_B32.imageSize,
    ]),
  };
  const calls = Math.max(6, Math.round(40 * scale));
  const nsfwMs: number[] = [];
  const vitMs: number[] = [];
  const timed = async (into: number[], run: () => Promise<unknown>) => {
    const t = performance.now();
    await run();
    into.push(performance.now() - t);
  };
  for (let i = 0; i < calls + 3; i++) {
    await timed(nsfwMs, () => nsfwSession.run(nsfwFeed));
    await timed(vitMs, () => vitSession.run(vitFeed));
  }
  await Promise.all([nsfwSession.release(), vitSession.release()]);
  const summary = (ms: number[]) => {
    const sorted = ms.slice(3).sort((a, b) => a - b); // the first 3 calls warm up
    return {
      sortedMs: sorted.map((x) => Math.round(x * 100) / 100),
      calls: sorted.length,
      p50Ms: Math.round(percentile(sorted, 50) * 100) / 100,
      p99Ms: Math.round(percentile(sorted, 99) * 100) / 100,
    };
  };
  const nsfw = summary(nsfwMs);
  const vit = summary(vitMs);
  const result = {
    threads: 1,
    batch: 1,
    nsfw,
    vit,
    ratio: Math.round((nsfw.p50Ms / vit.p50Ms) * 1000) / 1000,
    vitMultiplyAdds: vitB32MultiplyAdds(),
    published: {
      vitB32Gflops: 4.4,
      vitB32Source:
        'ViT-B/32 at 224 x 224: ~4.4 GFLOPs (multiply-adds), Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021',
      mobileNetV2Gflops: 0.3,
      mobileNetV2Source:
        'MobileNetV2 1.0 at 224 x 224: 300 M multiply-adds, Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018',
    },
  };
  console.error(
    `safety model ${nsfw.p50Ms} ms, ViT-B/32 ${vit.p50Ms} ms (p50, 1 thread): ${(result.ratio * 100).toFixed(1)}%`,
  );
  return result;
}
