/**
 * Router fan-out benchmark (issue 14, item 5): "4 shards against 1 at equal recall costs <= +15% CPU
 * per query", with balance (shard sizes within 20%) and availability (replicas) reported.
 *
 *   npm run bench:router                                   # 200,000 x 128-d, 1,000 queries
 *   npm run bench:router -- --n 100000 --dim 512 --tiers hnsw
 *
 * The same seeded synthetic clustered unit vectors go into (a) one in-process shard and (b) four,
 * each through `createRouter({ mode: 'in-process' })` with a `MemoryVectorSource` that is filled
 * after start-up, then `router.rebuild()` builds every shard's main tier (forced to flat, hnsw or
 * ivfpq with `tiers.mainTier`). The same queries then go one call at a time through
 * `router.search(model, q, k)`, with 1 and with 2 calls in flight, against both routers in
 * alternation (so load from other work on a shared machine hits both alike); the fastest of
 * `--repeats` passes is kept. Ground truth is an exact FAISS Flat search over all vectors.
 *
 * Three routers per tier: one shard; four shards with `scaleSearchParams: false` (every shard gets
 * the whole search's parameters: "unscaled"); and four shards as `createRouter` makes them now
 * ("auto": the router scales efSearch per shard and in-process shards get rescoreFactor / shards,
 * search-cluster/src/router/shard-params.ts). The auto rows are compared with one shard at the same
 * whole-collection parameters (`--auto-ef`, `--auto-nprobe`); the unscaled router is also swept over
 * hand-set efSearch values, and a "share of lists" nprobe row shows why nprobe is not scaled. A
 * failover router puts auto's shards behind 2 replicas each, the first one down (availability);
 * shard sizes are reported against the 20% balance target. The verdict is on CPU per query.
 *
 * The clustered router (`createRouter({ partitioning: { kind: 'cluster' } })`) places vectors by
 * k-means cluster and searches only the nearest shards; it is compared with one shard at the same
 * whole parameters, and a clustered-failover router puts its shards behind a down replica too.
 * `--families N` draws the data's cluster centres around N family centres (two-level data, like
 * semantic groups); without it the centres are independent (the earlier runs' data).
 *
 * Default dimension is 128, not CLIP's 512, so the six builds (HNSW over 200k vectors being the
 * longest) finish in a few minutes on 2 cores.
 *
 * One shard is also swept over more efSearch / nprobe values (`--one-ef`, `--one-nprobe`) and, for
 * IVF-PQ, built again at larger rescoreFactors (`--one-rescore`): its recall-CPU curve, from which
 * every multi-shard row also gets the single shard's CPU at the same recall (the issue's "at equal
 * recall"; linear between the curve's neighbouring points, none outside it).
 *
 * Writes bench/results/<name>.md and .json (`--name`, default router).
 */

import { routerJson, routerMarkdown } from './router/report.ts';
import { measureRun } from './router/run.ts';
import { readSavedRun } from './router/saved-run.ts';
import { routerFlags } from './router/settings.ts';
import { commandLine, log } from './support/machine.ts';
import { writeResults } from './support/results.ts';

const flags = routerFlags();
const run = flags.render
  ? await readSavedRun(flags.render)
  : await measureRun(flags, commandLine('bench:router'));
const json = routerJson(run);
const paths = await writeResults(flags.name, json, routerMarkdown(json, flags.clustered.sampleSize));
log(`wrote ${paths.join(', ')}`);
