/**
 * `npm run model:nsfw [dir]`: converts the nsfwjs MobileNetV2 safety model to ONNX into the
 * models directory (the argument, else the worker's `MODELS_DIR` / `DATA_DIR/models`), as the
 * worker does on first use.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadOrExit } from '../../../search-cluster/src/index.ts';
import { loadWorkerConfig } from '../config/config.ts';
import { ensureNsfwOnnx } from '../encoder/nsfw-onnx.ts';

const modelsDir = process.argv[2]
  ? path.resolve(process.argv[2])
  : loadOrExit(() => loadWorkerConfig(process.env)).encoder.modelsDir;
const started = performance.now();
const file = await ensureNsfwOnnx(modelsDir);
const { size } = await stat(file);
process.stdout.write(
  `nsfwjs MobileNetV2 -> ONNX: ${path.relative(process.cwd(), file) || file} ` +
    `(${(size / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
);
