/**
 * nsfwjs' MobileNetV2 as ONNX, converted from the TF.js layers model bundled in the nsfwjs npm
 * package (onnx/tfjs-layers.ts), so the safety classifier runs on onnxruntime like CLIP. Nothing
 * is downloaded. The file name carries the nsfwjs version and the converter version, so a new
 * nsfwjs or converter never reuses an old file.
 *
 *   <modelsDir>/nsfwjs/mobilenet_v2-nsfwjs<version>-c<converter>.onnx
 *     input  pixels         uint8  [batch, 224, 224, 3]  RGB, as nsfwjs gets it (scaled / 255 inside)
 *     output probabilities  float  [batch, 5]            NSFW_CLASSES order
 *
 * Run: `npm run model:nsfw` (setup does), or let the safety scorer convert on first use.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { serializeModel } from './onnx/onnx-writer.ts';
import { convertLayersModel, type LayersModelJson } from './onnx/tfjs-layers.ts';
import { modelsDirFrom } from './registry.ts';

/** Bump when the converter's output changes: the file name changes with it. */
export const NSFW_CONVERTER_VERSION = 1;
/** nsfwjs' class order (its NSFW_CLASSES), which the model's output follows. */
export const NSFW_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] as const;
/** nsfwjs' MobileNetV2 input size. */
export const NSFW_IMAGE_SIZE = 224;

const require = createRequire(import.meta.url);

/** The nsfwjs package root and version. */
export function nsfwjsPackage(): { root: string; version: string } {
  const root = path.resolve(path.dirname(require.resolve('nsfwjs')), '..', '..');
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { root, version };
}

/** The layers model and its weight bytes, read from the .min.js bundles nsfwjs ships. */
export function readNsfwjsMobileNetV2(): { json: LayersModelJson; weights: Uint8Array } {
  const dir = path.join(nsfwjsPackage().root, 'dist', 'models', 'mobilenet_v2');
  const json = require(path.join(dir, 'model.min.js')) as LayersModelJson;
  const shards = json.weightsManifest.flatMap((group) =>
    group.paths.map((shard) => {
      const base64 = require(path.join(dir, `${shard}.min.js`)) as unknown;
      if (typeof base64 !== 'string')
        throw new Error(`nsfwjs weight bundle ${shard}.min.js is not base64 text`);
      return Buffer.from(base64, 'base64');
    }),
  );
  return { json, weights: new Uint8Array(Buffer.concat(shards)) };
}

/** The ONNX bytes of nsfwjs' MobileNetV2 (deterministic). */
export function convertNsfwMobileNetV2(): Uint8Array {
  const { version } = nsfwjsPackage();
  const { json, weights } = readNsfwjsMobileNetV2();
  return serializeModel(
    convertLayersModel(json, weights, {
      inputName: 'pixels',
      outputName: 'probabilities',
      producerVersion: String(NSFW_CONVERTER_VERSION),
      metadata: {
        source: `nsfwjs@${version} MobileNetV2 (TF.js layers model)`,
        classes: NSFW_CLASSES.join(','),
      },
    }),
  );
}

/** Where the converted model lives under a models dir. */
export function nsfwOnnxPath(modelsDir: string = modelsDirFrom()): string {
  const { version } = nsfwjsPackage();
  return path.join(modelsDir, 'nsfwjs', `mobilenet_v2-nsfwjs${version}-c${NSFW_CONVERTER_VERSION}.onnx`);
}

const converting = new Map<string, Promise<string>>();

/** Converts the model into `modelsDir` unless it is already there; returns the file. */
export function ensureNsfwOnnx(modelsDir: string = modelsDirFrom()): Promise<string> {
  const file = nsfwOnnxPath(modelsDir);
  let pending = converting.get(file);
  if (!pending) {
    pending = (async () => {
      const existing = await stat(file).catch(() => null);
      if (existing?.isFile() && existing.size > 0) return file;
      const bytes = convertNsfwMobileNetV2();
      await mkdir(path.dirname(file), { recursive: true });
      // write then rename: another process never opens half a model
      const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temporary, bytes);
      await rename(temporary, file);
      return file;
    })();
    converting.set(file, pending);
    pending.catch(() => converting.delete(file));
  }
  return pending;
}
