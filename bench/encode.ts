/**
 * Encoder throughput: texts/s and images/s at batch 1 and batch 16, with p50/p99 per call, for
 * the tiny test model, nsfwjs (safety scorer, and its ONNX model alone), indexing end to end
 * (tiny embedding + safety score per image), and the real CLIP when its files are present.
 *
 *   npm run bench:encode            # writes bench/results/encode.md and encode.json
 *   npm run bench:encode -- --quick # fewer calls, for a smoke run
 *
 * A "call" is one encodeText/encodeImage/score (batch 1, sequential) or one batch of 16 items
 * submitted together (encodeTexts/encodeImages/16 concurrent score calls). Image calls include
 * decoding and preprocessing a 512x512 JPEG with sharp, as an upload would.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { createEncoder, createSafetyScorer, type Encoder } from '../api/src/encoder/index.ts';
import { ensureNsfwOnnx, NSFW_IMAGE_SIZE } from '../api/src/encoder/nsfw-onnx.ts';
import { openSession } from '../api/src/encoder/onnx-session.ts';
import { decodeRgb } from '../api/src/encoder/preprocess.ts';
import {
  getModelEntry,
  missingFiles,
  modelDirOf,
  modelsDirFrom,
  TINY_MODEL_VERSION,
} from '../api/src/encoder/registry.ts';
import { COLOUR_NAMES, makeColourImage } from '../test/fixtures/images/make-images.ts';
import { ensureTinyClip } from '../test/fixtures/tiny-clip/generate.ts';
import { sampleLoad } from './support/machine.ts';
import { percentile } from './support/stats.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const scale = values.quick ? 0.2 : 1;
const here = path.dirname(fileURLToPath(import.meta.url));
const quiet = { info: () => {}, warn: (m: string) => console.error(m) };

interface Row {
  model: string;
  task: 'text' | 'image' | 'safety' | 'index';
  batch: number;
  calls: number;
  itemsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time of this process (every thread: onnxruntime's, sharp's, the safety worker's) per item */
  cpuMsPerItem: number;
}

async function measure(
  model: string,
  task: Row['task'],
  batch: number,
  calls: number,
  call: (i: number) => Promise<unknown>,
): Promise<Row> {
  for (let i = 0; i < Math.min(5, calls); i++) await call(i); // warm-up
  const times: number[] = [];
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  times.sort((a, b) => a - b);
  const row = {
    model,
    task,
    batch,
    calls,
    itemsPerSecond: Math.round(((calls * batch) / elapsed) * 10) / 10,
    p50Ms: Math.round(percentile(times, 50) * 100) / 100,
    p99Ms: Math.round(percentile(times, 99) * 100) / 100,
    cpuMsPerItem: Math.round(((cpu.user + cpu.system) / 1000 / (calls * batch)) * 100) / 100,
  };
  console.error(
    `${model.padEnd(20)} ${task.padEnd(6)} batch ${String(batch).padStart(2)}: ${row.itemsPerSecond} items/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, CPU ${row.cpuMsPerItem} ms/item`,
  );
  return row;
}

const texts = Array.from({ length: 64 }, (_, i) => {
  const a = COLOUR_NAMES[i % COLOUR_NAMES.length]!;
  const b = COLOUR_NAMES[(i * 7 + 3) % COLOUR_NAMES.length]!;
  return i % 2 ? `a photo of a ${a} car parked next to a ${b} wall` : `${a} top ${b} bottom`;
});
const images = await Promise.all(
  Array.from({ length: 32 }, (_, i) =>
    makeColourImage({
      top: COLOUR_NAMES[i % COLOUR_NAMES.length]!,
      bottom: COLOUR_NAMES[(i + 3) % COLOUR_NAMES.length]!,
      size: 512,
      format: 'jpeg',
    }),
  ),
);
const batchOf = <T>(items: T[], i: number, n: number) =>
  Array.from({ length: n }, (_, k) => items[(i * n + k) % items.length]!);

async function benchEncoder(encoder: Encoder, heavy: boolean): Promise<Row[]> {
  const m = encoder.modelVersion;
  const k = heavy ? 0.25 : 1;
  const n = (x: number) => Math.max(5, Math.round(x * k * scale));
  return [
    await measure(m, 'text', 1, n(300), (i) => encoder.encodeText(texts[i % texts.length]!)),
    await measure(m, 'text', 16, n(60), (i) => encoder.encodeTexts(batchOf(texts, i, 16))),
    await measure(m, 'image', 1, n(150), (i) => encoder.encodeImage(images[i % images.length]!)),
    await measure(m, 'image', 16, n(20), (i) => encoder.encodeImages(batchOf(images, i, 16))),
  ];
}

const rows: Row[] = [];
const notes: string[] = [];

const load = sampleLoad();
await ensureTinyClip();
const tiny = await createEncoder({ model: TINY_MODEL_VERSION, logger: quiet });
rows.push(...(await benchEncoder(tiny, false)));

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
  const session = await openSession(await ensureNsfwOnnx(), 'nsfwjs MobileNetV2');
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
// what the indexing worker does per image: the embedding, then the safety score that uses it
rows.push(
  await measure('tiny-clip-v1 + nsfwjs', 'index', 16, n(8), (i) =>
    Promise.all(
      batchOf(images, i, 16).map(async (bytes) => safety.score(bytes, await tiny.encodeImage(bytes))),
    ),
  ),
);
await safety.close();
await tiny.close();

for (const version of ['clip-vit-b32-fp32', 'clip-vit-b32-q8']) {
  const entry = getModelEntry(version);
  const dir = modelDirOf(entry, modelsDirFrom());
  const missing = await missingFiles(entry, dir);
  if (missing.length > 0) {
    notes.push(
      `${version}: not measured, its files are not in ${path.relative(process.cwd(), dir)} (\`npm run model:download -- ${version}\`).`,
    );
    console.error(notes.at(-1));
    continue;
  }
  const encoder = await createEncoder({ model: version, logger: quiet });
  rows.push(...(await benchEncoder(encoder, true)));
  await encoder.close();
}

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  intraOpThreads: tiny.info.intraOpThreads,
};
const command = `npm run bench:encode${values.quick ? ' -- --quick' : ''}`;
const loadSummary = load.stop();
const result = { command, date: new Date().toISOString(), machine, load: loadSummary, rows, notes };
const outDir = path.join(here, 'results');
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, 'encode.json'), `${JSON.stringify(result, null, 2)}\n`);

const unit = (task: Row['task']) => (task === 'text' ? 'texts/s' : 'images/s');
const md = [
  '# Encoder benchmark',
  '',
  `Command: \`${command}\` (${result.date})`,
  '',
  `Machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; ` +
    `onnxruntime CPU, ${machine.intraOpThreads} intra-op threads; nsfwjs MobileNetV2 converted to ONNX, on onnxruntime in a worker thread.`,
  '',
  `Load (1-minute average, shared machine): ${loadSummary.atStart} at start, mean ${loadSummary.mean}, max ${loadSummary.max}, ` +
    `${loadSummary.atEnd} at end; this process used ${loadSummary.processCpuPercent}% of the machine's CPU. ` +
    `A load above ${machine.cpus} means other work shared the cores.`,
  '',
  'A call is one item (batch 1, calls in sequence) or 16 items submitted together (batch 16). Image calls',
  'include decoding and preprocessing a 512x512 JPEG; safety calls include decoding, resizing to 224x224,',
  'nsfwjs and the CLIP concept check; "model only" rows run the nsfwjs ONNX model alone on pixels already',
  'decoded; the index row is the tiny embedding plus the safety score of each image, as the indexing worker',
  'does. Calls in sequence at batch 1 skip the batching wait: each arrives while the previous batch is',
  'finishing and runs right after it.',
  '',
  'CPU per item is the CPU time of the whole process (all its threads) over the calls, divided by the items:',
  'on a busy machine it moves much less than the wall-clock figures.',
  '',
  '| model | task | batch | calls | throughput | p50 per call | p99 per call | CPU per item |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.task} | ${r.batch} | ${r.calls} | ${r.itemsPerSecond} ${unit(r.task)} | ${r.p50Ms} ms | ${r.p99Ms} ms | ${r.cpuMsPerItem} ms |`,
  ),
  '',
  ...(notes.length ? ['Notes:', '', ...notes.map((x) => `- ${x}`), ''] : []),
].join('\n');
await writeFile(path.join(outDir, 'encode.md'), md);
console.error(`wrote ${path.relative(process.cwd(), outDir)}/encode.md and encode.json`);
