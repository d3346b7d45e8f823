import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyClip, TINY_IMAGE_SIZE } from '../../../test/fixtures/tiny-clip/generate.ts';
import { openSession } from './onnx-session.ts';

/** The CLIP sessions run on a worker thread each: an encode does not stop the API's event loop. */
describe('openSession: a CLIP session off the main thread', () => {
  let dir: string;
  let vision: ort.InferenceSession;

  beforeAll(async () => {
    dir = await ensureTinyClip();
    vision = await openSession(path.join(dir, 'onnx/vision_model.onnx'), 'tiny vision model', {
      intraOpThreads: 1,
    });
  });
  afterAll(() => vision?.release());

  const pixels = (batch: number) =>
    new ort.Tensor('float32', new Float32Array(batch * 3 * TINY_IMAGE_SIZE ** 2).fill(0.25), [
      batch,
      3,
      TINY_IMAGE_SIZE,
      TINY_IMAGE_SIZE,
    ]);

  it('keeps the event loop turning while a large batch runs', async () => {
    let turns = 0;
    let running = true;
    const spin = () => {
      turns += 1;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const batch = 512;
    const out = await vision.run({ pixel_values: pixels(batch) }, ['image_embeds']);
    running = false;
    expect(out.image_embeds!.dims[0]).toBe(batch);
    // on the main thread the run would compute in one go (onnxruntime-node defers a synchronous
    // run with setImmediate): one or two turns. On its own thread the loop turns throughout.
    expect(turns).toBeGreaterThan(50);
  });

  it('answers like an in-thread session: names, metadata, and the same numbers', async () => {
    expect(vision.inputNames).toEqual(['pixel_values']);
    expect(vision.outputNames).toContain('image_embeds');
    const local = await ort.InferenceSession.create(path.join(dir, 'onnx/vision_model.onnx'));
    try {
      const feeds = { pixel_values: pixels(3) };
      const [theirs, ours] = await Promise.all([local.run(feeds), vision.run(feeds, ['image_embeds'])]);
      expect(Array.from(ours.image_embeds!.data as Float32Array)).toEqual(
        Array.from(theirs.image_embeds!.data as Float32Array),
      );
      expect(ours.image_embeds!.dims).toEqual(theirs.image_embeds!.dims);
    } finally {
      await local.release();
    }
  });

  it("rejects a bad run with onnxruntime's reason, and keeps serving", async () => {
    const wrong = new ort.Tensor('float32', new Float32Array(3 * 8 * 8), [3, 8, 8]); // rank 3, not 4
    await expect(vision.run({ pixel_values: wrong })).rejects.toThrow(/tiny vision model failed: /);
    const out = await vision.run({ pixel_values: pixels(1) });
    expect(out.image_embeds!.dims[0]).toBe(1);
  });

  it('names the file when it cannot load, and refuses runs after release', async () => {
    await expect(openSession(path.join(dir, 'missing.onnx'), 'missing model')).rejects.toThrow(
      /Could not load the missing model from .*missing\.onnx/,
    );
    const text = await openSession(path.join(dir, 'onnx/text_model.onnx'), 'tiny text model');
    await text.release();
    await expect(
      text.run({ input_ids: new ort.Tensor('int64', new BigInt64Array(4), [1, 4]) }),
    ).rejects.toThrow(/released/);
  });
});
