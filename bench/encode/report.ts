import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { NSFW_INTRA_OP_THREADS } from '../../api/src/encoder/safety.ts';
import { runStamp, stampMarkdown } from '../support/flags.ts';
import type { IndexRun } from '../support/index-end-to-end.ts';
import { gitBuild, type LoadSummary, sharedCpuText, sharedMachine } from '../support/machine.ts';
import { RESULTS_DIR, table, writeResults } from '../support/results.ts';
import { lineChartSvg } from '../support/svg.ts';
import type { Row } from './measure.ts';
import type { VitComparison } from './vit-comparison.ts';

/** Everything a run measured, for encode.json, encode.md and encode.svg. */
export interface EncodeRun {
  loadSummary: LoadSummary;
  /** Intra-op threads of the CLIP sessions (the tiny encoder's). */
  intraOpThreads: number;
  rows: Row[];
  comparison: VitComparison;
  indexCount: number;
  indexRuns: IndexRun[];
  notes: string[];
}

/** The issue 14 item 7 targets against the run, then bench/results/encode.{json,md,svg}. */
export async function writeEncodeResults({
  loadSummary,
  intraOpThreads,
  rows,
  comparison,
  indexCount,
  indexRuns,
  notes,
}: EncodeRun): Promise<void> {
  const stamp = runStamp('bench:encode', loadSummary);
  const build = gitBuild();
  const quietMachine = !sharedMachine(loadSummary, stamp.machine.cpus);
  /** A target is met only when no other work shared the cores (a loaded figure proves nothing). */
  const sharedText = sharedCpuText(loadSummary) ?? `load up to ${loadSummary.max}`;
  const status = (passes: boolean) =>
    passes
      ? quietMachine
        ? 'met'
        : `not shown: passes, but other work shared the machine (${sharedText})`
      : quietMachine
        ? 'not met'
        : `not met with other work on the machine (${sharedText}; pessimistic)`;
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
    intraOpThreads,
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
${quietMachine ? '' : `\n**Other work shared the cores (${sharedText}): every wall-clock figure below is pessimistic, and no target counts as met.**\n`}
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
}
