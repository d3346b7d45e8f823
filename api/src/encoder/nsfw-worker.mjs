// @ts-check
/**
 * nsfwjs' MobileNetV2, converted to ONNX (nsfw-onnx.ts), on onnxruntime in a worker thread:
 * onnxruntime-node's `session.run()` returns a promise but computes on the thread that called it
 * (it defers a synchronous run with setImmediate), so on the API's thread it would stall the event
 * loop for the whole model call. Plain JavaScript on purpose: a worker thread does not inherit the
 * TypeScript loader (tsx, vitest) of its parent on Node 20.
 *
 * Protocol (see safety.ts): workerData { file, size, classes, intraOpThreads, allowSpinning }; the
 * worker posts { type: 'ready', loadMs } or { type: 'failed', message }; then answers
 * { type: 'classify', id, count, pixels } (count x size x size x 3 RGB bytes) with
 * { type: 'result', id, probabilities } (count rows of `classes` values) or { type: 'error', id, message }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const port = parentPort;
if (!port) throw new Error('nsfw-worker.mjs must run in a worker thread');
const { file, size, classes, intraOpThreads, allowSpinning } = workerData;

try {
  const started = performance.now();
  // the same settings as onnx-session.ts gives the CLIP sessions
  const session = await ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: allowSpinning ? '1' : '0' } } },
  });
  port.on('message', async (message) => {
    if (message?.type !== 'classify') return;
    try {
      const { count, pixels } = message;
      const input = new ort.Tensor('uint8', pixels, [count, size, size, 3]);
      const output = await session.run({ pixels: input });
      const values = /** @type {Float32Array} */ (output.probabilities.data);
      const probabilities = [];
      for (let i = 0; i < count; i++)
        probabilities.push(Array.from(values.subarray(i * classes, (i + 1) * classes)));
      port.postMessage({ type: 'result', id: message.id, probabilities });
    } catch (error) {
      port.postMessage({
        type: 'error',
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
  port.postMessage({ type: 'ready', loadMs: performance.now() - started });
} catch (error) {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}
