import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { convertNsfwMobileNetV2, NSFW_CLASSES, NSFW_IMAGE_SIZE, readNsfwjsMobileNetV2 } from './nsfw-onnx.ts';
import { convertLayersModel, type LayersModelJson } from './onnx/tfjs-layers.ts';
import { decodeRgb } from './preprocess.ts';

const SIZE = NSFW_IMAGE_SIZE;
const PLANE = SIZE * SIZE * 3;

/** Images of different kinds, as the safety scorer hands them to the model (sharp, 224 x 224 RGB). */
async function inputs(): Promise<Uint8Array> {
  const images: Uint8Array[] = [];
  const sharpRgb = async (bytes: Buffer) => {
    const rgb = await decodeRgb(bytes, { width: SIZE, height: SIZE, fit: 'fill', kernel: 'linear' });
    return new Uint8Array(rgb.data.buffer, rgb.data.byteOffset, rgb.data.length);
  };
  images.push(await sharpRgb(await makeColourImage({ colour: 'red' })));
  images.push(await sharpRgb(await makeColourImage({ top: 'magenta', bottom: 'white', format: 'jpeg' })));
  // seeded noise and a gradient: every weight of the first layers matters, not only the flat colours
  const noise = new Uint8Array(PLANE);
  let seed = 12345;
  for (let i = 0; i < PLANE; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    noise[i] = seed >>> 24;
  }
  images.push(noise);
  const gradient = new Uint8Array(PLANE);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const at = (y * SIZE + x) * 3;
      gradient.set([x, y, (x * y) % 256], at);
    }
  images.push(gradient);
  const joined = new Uint8Array(images.length * PLANE);
  images.forEach((image, i) => {
    joined.set(image, i * PLANE);
  });
  return joined;
}

describe('nsfwjs MobileNetV2 converted to ONNX', () => {
  let pixels: Uint8Array;
  let count: number;
  let reference: Float32Array;

  // TF.js runs here only to check the conversion; the scorer itself runs the ONNX model
  beforeAll(async () => {
    pixels = await inputs();
    count = pixels.length / PLANE;
    const require = createRequire(import.meta.url);
    const wasmDir = path.dirname(
      require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'),
    );
    wasm.setWasmPaths(`${wasmDir}${path.sep}`);
    expect(await tf.setBackend('wasm')).toBe(true);
    const { json, weights } = readNsfwjsMobileNetV2();
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((group) => group.weights) as tf.io.WeightsManifestEntry[],
        weightData: weights.slice().buffer,
      }),
    );
    // nsfwjs' own input: RGB as float, divided by 255, NHWC
    const input = tf.tensor4d(Int32Array.from(pixels), [count, SIZE, SIZE, 3], 'int32').toFloat().div(255);
    const output = model.predict(input) as tf.Tensor;
    reference = (await output.data()) as Float32Array;
    tf.dispose([input, output]);
    model.dispose();
  });

  it('gives the class probabilities TF.js gives, to 1e-4, on the same pixels', async () => {
    const session = await ort.InferenceSession.create(convertNsfwMobileNetV2());
    try {
      expect(session.inputNames).toEqual(['pixels']);
      expect(session.outputNames).toEqual(['probabilities']);
      const result = await session.run({ pixels: new ort.Tensor('uint8', pixels, [count, SIZE, SIZE, 3]) });
      const output = result.probabilities!;
      expect(output.dims).toEqual([count, NSFW_CLASSES.length]);
      const got = output.data as Float32Array;
      expect(reference).toHaveLength(count * NSFW_CLASSES.length);
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - reference[i]!));
      console.info(`ONNX vs TF.js, ${count} images: largest difference ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
      // the images are told apart, so matching is not an accident of a constant output
      const rows = Array.from({ length: count }, (_, i) => Array.from(got.subarray(i * 5, (i + 1) * 5)));
      expect(Math.max(...rows.map((row) => Math.abs(row[2]! - rows[0]![2]!)))).toBeGreaterThan(0.01);
    } finally {
      await session.release();
    }
  });

  it('converts to the same bytes every time', () => {
    expect(Buffer.compare(Buffer.from(convertNsfwMobileNetV2()), Buffer.from(convertNsfwMobileNetV2()))).toBe(
      0,
    );
  });

  it('refuses a layer it does not know instead of converting it wrongly', () => {
    const { json, weights } = readNsfwjsMobileNetV2();
    const changed = structuredClone(json) as LayersModelJson;
    const layers = changed.modelTopology.model_config.config.layers;
    layers[1] = { ...layers[1]!, class_name: 'MaxPooling2D' };
    expect(() => convertLayersModel(changed, weights)).toThrow(
      /Layer Conv1_pad: the converter does not know MaxPooling2D/,
    );
    expect(() => convertLayersModel(json, weights.subarray(0, weights.length - 1))).toThrow(/weight data/);
  });
});
