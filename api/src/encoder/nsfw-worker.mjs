// @ts-check
/**
 * nsfwjs on TensorFlow.js (WASM backend) in a worker thread: TF.js computes on the thread that
 * calls it, so the API's event loop never runs the model. Plain JavaScript on purpose: a worker
 * thread does not inherit the TypeScript loader (tsx, vitest) of its parent on Node 20.
 *
 * Protocol (see safety.ts): workerData { model }; the worker posts { type: 'ready', size,
 * backend, classes, loadMs } or { type: 'failed', message }; then answers
 * { type: 'classify', id, count, pixels } (count x size x size x 3 RGB bytes) with
 * { type: 'result', id, probabilities } (count rows in `classes` order) or { type: 'error', id, message }.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

const port = parentPort;
if (!port) throw new Error('nsfw-worker.mjs must run in a worker thread');

// Quiet the libraries' banners ("install tfjs-node", "you're using the model ..."): the parent logs.
const quiet = /tfjs|TensorFlow\.js|NSFWJS|nsfwjs|host-your-own-model/i;
for (const level of /** @type {const} */ (['log', 'info', 'warn'])) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    if (!args.some((a) => typeof a === 'string' && quiet.test(a))) original(...args);
  };
}

const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

async function load() {
  const started = performance.now();
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  // the .wasm binaries ship in the npm package: point the backend at them, never at a CDN
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(`${wasmDir}${path.sep}`);
  if (!(await tf.setBackend('wasm'))) throw new Error('TensorFlow.js could not start its WASM backend');
  await tf.ready();
  const nsfwjs = await import('nsfwjs');
  // a model name (not a URL) loads the weights bundled in the nsfwjs package: no network
  const model = await nsfwjs.load(workerData?.model ?? 'MobileNetV2');
  const size = /** @type {any} */ (model).options?.size ?? 224;
  return { tf, model, size, backend: tf.getBackend(), loadMs: performance.now() - started };
}

/** @param {{ tf: typeof import('@tensorflow/tfjs'), model: any, size: number }} state
 *  @param {Uint8Array} pixels @param {number} count */
async function classify({ tf, model, size }, pixels, count) {
  const output = tf.tidy(() => {
    // the same input nsfwjs' own classify() builds: RGB scaled to [0,1], NHWC
    const input = tf.tensor4d(Int32Array.from(pixels), [count, size, size, 3], 'int32').toFloat().div(255);
    return /** @type {import('@tensorflow/tfjs').Tensor} */ (model.model.predict(input));
  });
  const values = await output.data();
  output.dispose();
  const rows = [];
  for (let i = 0; i < count; i++)
    rows.push(Array.from(values.subarray(i * CLASSES.length, (i + 1) * CLASSES.length)));
  return rows;
}

try {
  const state = await load();
  port.on('message', async (message) => {
    if (message?.type !== 'classify') return;
    try {
      const probabilities = await classify(state, message.pixels, message.count);
      port.postMessage({ type: 'result', id: message.id, probabilities });
    } catch (error) {
      port.postMessage({
        type: 'error',
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
  port.postMessage({
    type: 'ready',
    size: state.size,
    backend: state.backend,
    classes: CLASSES,
    loadMs: state.loadMs,
  });
} catch (error) {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}
