// @ts-check
/**
 * One ONNX session (a CLIP text or vision tower) on onnxruntime in a worker thread: onnxruntime-node's
 * `session.run()` returns a promise but computes on the thread that called it, so on the API's
 * thread every encode would stall the event loop for the whole model call. Plain JavaScript on
 * purpose: a worker thread does not inherit the TypeScript loader (tsx, vitest) of its parent on
 * Node 20 (the same reason as nsfw-worker.mjs).
 *
 * Protocol (see onnx-session.ts): workerData { file, options } (ort session options); the worker
 * posts { type: 'ready', inputNames, outputNames, inputMetadata, outputMetadata } or
 * { type: 'failed', message }; then answers { type: 'run', id, feeds, fetches } (feeds: name ->
 * { type, data, dims }) with { type: 'result', id, outputs } (the same shape) or
 * { type: 'error', id, message }. { type: 'release' } releases the session and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const port = parentPort;
if (!port) throw new Error('onnx-session-worker.mjs must run in a worker thread');
const { file, options } = workerData;
const message = (error) => (error instanceof Error ? error.message : String(error));

try {
  const session = await ort.InferenceSession.create(file, options);
  port.on('message', async (request) => {
    if (request?.type === 'release') {
      await session.release().catch(() => {});
      port.close();
      return;
    }
    if (request?.type !== 'run') return;
    try {
      const feeds = {};
      for (const [name, { type, data, dims }] of Object.entries(request.feeds))
        feeds[name] = new ort.Tensor(type, data, dims);
      const output = request.fetches ? await session.run(feeds, request.fetches) : await session.run(feeds);
      const outputs = {};
      const transfer = [];
      for (const [name, tensor] of Object.entries(output)) {
        const t = /** @type {ort.Tensor} */ (tensor);
        outputs[name] = { type: t.type, data: t.data, dims: t.dims };
        const buffer = /** @type {{ buffer?: ArrayBufferLike }} */ (t.data).buffer;
        if (buffer instanceof ArrayBuffer && !transfer.includes(buffer)) transfer.push(buffer);
      }
      try {
        port.postMessage({ type: 'result', id: request.id, outputs }, transfer);
      } catch {
        port.postMessage({ type: 'result', id: request.id, outputs }); // not transferable: copied
      }
    } catch (error) {
      port.postMessage({ type: 'error', id: request.id, message: message(error) });
    }
  });
  port.postMessage({
    type: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
  });
} catch (error) {
  port.postMessage({ type: 'failed', message: message(error) });
}
