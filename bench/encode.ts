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
import { parseArgs } from 'node:util';
import { createEncoder } from '../api/src/encoder/index.ts';
import { TINY_MODEL_VERSION } from '../api/src/encoder/registry.ts';
import { ensureTinyClip } from '../test/fixtures/tiny-clip/generate.ts';
import { benchEncoder, clipRows, quiet } from './encode/encoders.ts';
import { indexingRuns } from './encode/indexing.ts';
import { encodeInputs } from './encode/inputs.ts';
import type { Row } from './encode/measure.ts';
import { writeEncodeResults } from './encode/report.ts';
import { safetyRows } from './encode/safety.ts';
import { vitComparison } from './encode/vit-comparison.ts';
import { sampleLoad } from './support/machine.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const scale = values.quick ? 0.2 : 1;

const inputs = await encodeInputs();
const rows: Row[] = [];
const notes: string[] = [];

const load = sampleLoad();
await ensureTinyClip();
const tiny = await createEncoder({ model: TINY_MODEL_VERSION, logger: quiet });
rows.push(...(await benchEncoder(tiny, false, inputs, scale)));
rows.push(...(await safetyRows(tiny, inputs.images, scale)));
await tiny.close();
rows.push(...(await clipRows(inputs, scale, notes)));

const comparison = await vitComparison(inputs.images[0]!, scale);
const { indexCount, indexRuns } = await indexingRuns(scale);

await writeEncodeResults({
  loadSummary: load.stop(),
  intraOpThreads: tiny.info.intraOpThreads,
  rows,
  comparison,
  indexCount,
  indexRuns,
  notes,
});
