/**
 * Encoder throughput: texts/s and images/s at batch 1 and batch 16, with p50/p99 per call, for
 * the tiny test model, nsfwjs (safety scorer, and its ONNX model alone), indexing end to end (the
 * indexing worker draining a queue of uploads: bench/support/index-end-to-end.ts), the safety
 * model against a ViT-B/32 image tower on one thread each, and the real CLIP when its files are
 * present. Ends with the issue 14 item 7 targets, met or not.
 *
 *   npm run bench:encode            # writes bench/results/encode.md, encode.json and encode.svg
 *   npm run bench:encode -- --quick # fewer calls and images, for a smoke run
 *   DATABASE_URL=postgres://... npm run bench:encode   # indexing on Postgres too (scratch database)
 *
 * A "call" is one encodeText/encodeImage/score (batch 1, sequential) or one batch of 16 items
 * submitted together (encodeTexts/encodeImages/16 concurrent score calls). Image calls include
 * decoding and preprocessing a 512x512 JPEG with sharp, as an upload would.
 *
 * The ViT-B/32 tower has CLIP's shapes and seeded random weights (bench/support/vit-b32-shape.ts,
 * generated once into data/cache/bench, ~350 MB): the time of a forward pass does not depend on
 * the weights' values.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { createEncoder, createSafetyScorer, type Encoder } from '../api/src/encoder/index.ts';
import { ensureNsfwOnnx, NSFW_IMAGE_SIZE } from '../api/src/encoder/nsfw-onnx.ts';
import { openSession } from '../api/src/encoder/onnx-session.ts';
import { decodeRgb, preprocessConfigOf, preprocessImage } from '../api/src/encoder/preprocess.ts';
import {
  getModelEntry,
  missingFiles,
  modelDirOf,
  modelsDirFrom,
  TINY_MODEL_VERSION,
} from '../api/src/encoder/registry.ts';
import { NSFW_INTRA_OP_THREADS } from '../api/src/encoder/safety.ts';
import { COLOUR_NAMES, makeColourImage } from '../test/fixtures/images/make-images.ts';
import { makePatternImage } from '../test/fixtures/images/make-patterns.ts';
import { ensureTinyClip } from '../test/fixtures/tiny-clip/generate.ts';
import { runStamp, stampMarkdown } from './support/flags.ts';
import { type IndexRun, measureIndexing } from './support/index-end-to-end.ts';
import { gitBuild, sampleLoad } from './support/machine.ts';
import { RESULTS_DIR, table, writeResults } from './support/results.ts';
import { percentile } from './support/stats.ts';
import { lineChartSvg } from './support/svg.ts';
import { ensureVitB32Model, VIT_B32, vitB32MultiplyAdds } from './support/vit-b32-shape.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const scale = values.quick ? 0.2 : 1;
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

// the safety model against a ViT-B/32 image encode: one onnxruntime thread each, same process,
// calls interleaved so that both see the same machine
const oneThread = { intraOpThreads: 1 };
const comparison = await (async () => {
  const vitFile = await ensureVitB32Model();
  const nsfwSession = await openSession(await ensureNsfwOnnx(), 'nsfwjs MobileNetV2', oneThread);
  const vitSession = await openSession(vitFile, 'ViT-B/32 image tower (random weights)', oneThread);
  const rgb = await decodeRgb(images[0]!, {
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
    pixel_values: new ort.Tensor(
      'float32',
      await preprocessImage(images[0]!, preprocessConfigOf(clipRules)),
      [1, 3, VIT_B32.imageSize, VIT_B32.imageSize],
    ),
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
})();

// indexing end to end: the worker draining uploads of 512 x 512 photo-like JPEGs (textured, so
// they have a pHash and decode like pictures, not like flat colours)
const indexCount = Math.max(32, Math.round(320 * scale));
const indexImages = await Promise.all(
  Array.from({ length: indexCount + 16 }, (_, i) =>
    makePatternImage(1000 + i, { width: 512, height: 512, format: 'jpeg' }),
  ),
);
const indexRuns: IndexRun[] = [];
for (const databaseUrl of [null, ...(process.env.DATABASE_URL ? [process.env.DATABASE_URL] : [])]) {
  const run = await measureIndexing({
    images: indexImages.slice(16),
    warmUp: indexImages.slice(0, 16),
    databaseUrl,
  });
  console.error(
    `index end to end (${run.database}): ${run.imagesPerSecond} images/s, CPU ${run.cpuMsPerImage} ms/image, ${JSON.stringify(run.outcomes)}`,
  );
  indexRuns.push(run);
}

const loadSummary = load.stop();
const stamp = runStamp('bench:encode', loadSummary);
const build = gitBuild();
const quietMachine = loadSummary.max <= stamp.machine.cpus;
/** A target is met only on a machine no busier than its cores (a loaded figure proves nothing). */
const status = (passes: boolean) =>
  passes
    ? quietMachine
      ? 'met'
      : `not shown: passes, but at load up to ${loadSummary.max}`
    : quietMachine
      ? 'not met'
      : `not met at load up to ${loadSummary.max} (pessimistic)`;
const targets = [
  ...indexRuns.map((r) => ({
    target: `index end to end (${r.database.split(' ')[0]}) >= 50 images/s`,
    measured: `${r.imagesPerSecond} images/s`,
    status: status(r.imagesPerSecond >= 50),
  })),
  {
    target: 'safety model < 25% of a ViT-B/32 image encode (1 thread each)',
    measured: `${(comparison.ratio * 100).toFixed(1)}% (${comparison.nsfw.p50Ms} / ${comparison.vit.p50Ms} ms)`,
    status: status(comparison.ratio < 0.25),
  },
];

const result = {
  ...stamp,
  build,
  onnxruntime: ort.env.versions.common,
  intraOpThreads: tiny.info.intraOpThreads,
  rows,
  vitComparison: comparison,
  index: indexRuns,
  targets,
  notes,
};
const unit = (task: Row['task']) => (task === 'text' ? 'texts/s' : 'images/s');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const md = `# Encoder benchmark

${stampMarkdown(stamp)}
Build: ${build}; onnxruntime-node ${result.onnxruntime}, CPU, ${result.intraOpThreads} intra-op threads for the CLIP sessions,
${NSFW_INTRA_OP_THREADS} for nsfwjs (its default); nsfwjs MobileNetV2 converted to ONNX, on onnxruntime in a worker thread.
${quietMachine ? '' : `\n**The load went above the ${stamp.machine.cpus} cores (other work shared them): every wall-clock figure below is pessimistic, and no target counts as met.**\n`}
## Targets (issue 14 item 7)

${table(
  ['target', 'measured', 'status', 'load (mean / max)', 'build', 'date'],
  targets.map((t) => [
    t.target,
    t.measured,
    t.status,
    `${loadSummary.mean} / ${loadSummary.max}`,
    build,
    stamp.date,
  ]),
)}

## Indexing end to end

The indexing worker (batch ${indexRuns[0]?.batchSize}) draining ${indexCount} uploads of 512x512 textured JPEGs, after
16 untimed ones: claim, blob read, tiny CLIP encode, pHash (the upload's), blocklist and twin checks, nsfwjs and the concept
check, tags, the record's transaction, the in-process shard write, job completion. Uploads are not timed. Single-node
services in this process; with Postgres, the server's own CPU is not in "CPU per image".

${table(
  ['database', 'images', 'seconds', 'throughput', 'CPU per image', 'CPU-bound ceiling', 'outcomes'],
  indexRuns.map((r) => [
    r.database,
    r.images,
    r.seconds,
    `${r.imagesPerSecond} images/s`,
    `${r.cpuMsPerImage} ms`,
    `${Math.round((stamp.machine.cpus * 1000) / r.cpuMsPerImage)} images/s`,
    Object.entries(r.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
  ]),
  [1, 2, 3, 4, 5],
)}

"CPU-bound ceiling" is \`cores x 1000 / CPU per image\`: the throughput if this process had every core to itself and
kept them all busy. It is arithmetic on a measured figure, not a measurement, and counts no target.
${process.env.DATABASE_URL ? '' : '\nPostgres not measured: set DATABASE_URL to a server the bench may create a scratch database on.\n'}
## Safety model against a ViT-B/32 image encode

Both models alone (pixels already decoded), batch 1, one onnxruntime thread each, in this process, calls interleaved. The
ViT-B/32 tower has the shapes of CLIP's (patch 32, width 768, 12 layers, 12 heads, MLP 3072, 224x224, 512-d projection,
87.8 M parameters) and seeded random weights: no real weights are reachable offline, and a forward pass takes the same
time whatever the weights' values.

${table(
  ['model', 'calls', 'p50', 'p99'],
  [
    [
      'nsfwjs MobileNetV2 (ONNX)',
      comparison.nsfw.calls,
      `${comparison.nsfw.p50Ms} ms`,
      `${comparison.nsfw.p99Ms} ms`,
    ],
    [
      'ViT-B/32 image tower',
      comparison.vit.calls,
      `${comparison.vit.p50Ms} ms`,
      `${comparison.vit.p99Ms} ms`,
    ],
  ],
  [1, 2, 3],
)}

Measured ratio (p50): **${pct(comparison.ratio)}**. Published compute, for comparison: ${comparison.published.vitB32Source};
${comparison.published.mobileNetV2Source}: a ratio of ${pct(comparison.published.mobileNetV2Gflops / comparison.published.vitB32Gflops)}.
This graph's own count: ${(comparison.vitMultiplyAdds / 1e9).toFixed(2)} G multiply-adds per image.

## Encoder calls

A call is one item (batch 1, calls in sequence) or 16 items submitted together (batch 16). Image calls
include decoding and preprocessing a 512x512 JPEG; safety calls include decoding, resizing to 224x224,
nsfwjs and the CLIP concept check; "model only" rows run the nsfwjs ONNX model alone on pixels already
decoded (${NSFW_INTRA_OP_THREADS} thread); the "models only" index row is the tiny embedding and the safety score of each image
started together, as the indexing worker does, without the database. Calls in sequence at batch 1 skip the batching wait.
CPU per item is the CPU time of the whole process (all its threads) over the calls, divided by the items.

${table(
  ['model', 'task', 'batch', 'calls', 'throughput', 'p50 per call', 'p99 per call', 'CPU per item'],
  rows.map((r) => [
    r.model,
    r.task,
    r.batch,
    r.calls,
    `${r.itemsPerSecond} ${unit(r.task)}`,
    `${r.p50Ms} ms`,
    `${r.p99Ms} ms`,
    `${r.cpuMsPerItem} ms`,
  ]),
  [2, 3, 4, 5, 6, 7],
)}

Plot: [encode.svg](encode.svg), the latency CDF of the safety model and of the ViT-B/32 tower (one thread each).
${notes.length ? `\nNotes:\n\n${notes.map((x) => `- ${x}`).join('\n')}\n` : ''}`;
const cdf = (sorted: number[]): [number, number][] => sorted.map((ms, i) => [ms, (i + 1) / sorted.length]);
const svg = lineChartSvg(
  [
    { name: 'nsfwjs MobileNetV2', points: cdf(comparison.nsfw.sortedMs) },
    { name: 'ViT-B/32 tower', points: cdf(comparison.vit.sortedMs) },
  ],
  {
    title: `Model call latency, 1 onnxruntime thread, batch 1 (load mean ${loadSummary.mean})`,
    xLabel: 'ms per call',
    yLabel: 'fraction of calls',
    xLog: true,
    yRange: [0, 1],
  },
);
const written = await writeResults('encode', result, md);
await writeFile(path.join(RESULTS_DIR, 'encode.svg'), svg);
console.error(`wrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')} and encode.svg`);
