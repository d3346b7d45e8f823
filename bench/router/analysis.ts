import { ivfpqFactory } from '../../search-cluster/src/rebuild/build-main.ts';
import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import { round } from '../support/stats.ts';
import type { Row } from './rows.ts';
import type { Settings } from './settings.ts';
import { pct, type Verdict } from './verdicts.ts';

/** The "Why" section of router.md: why the overhead is what it is, from the rows and verdicts. */
export function whyMarkdown({
  settings,
  rows,
  verdicts,
}: {
  settings: Settings;
  rows: Row[];
  verdicts: Verdict[];
}): string[] {
  const {
    n: N,
    dim: DIM,
    k: K,
    clusters: CLUSTERS,
    families,
    shards: SHARDS,
    shardDefaults: DEFAULTS,
  } = settings;
  const FAMILIES = families ?? undefined;

  /** Why the overhead is what it is, from the rows above. */
  function analysis(): string[] {
    const get = (tier: MainTierKind, shards: number, params: string, inflight: number) =>
      rows.find(
        (r) =>
          r.tier === tier &&
          r.shards === shards &&
          r.params === params &&
          r.inflight === inflight &&
          (r.router === 'one' || r.router === 'unscaled'),
      );
    const out = ['## Why', ''];
    const f1 = get('flat', 1, 'default', 1);
    const f4 = get('flat', SHARDS, 'default', 1);
    if (f1 && f4) {
      const f1b = get('flat', 1, 'default', 2) ?? f1;
      const f4b = get('flat', SHARDS, 'default', 2) ?? f4;
      const perCall = (f4.cpuMsPerQuery - f1.cpuMsPerQuery) / (SHARDS - 1);
      const perCallB = (f4b.cpuMsPerQuery - f1b.cpuMsPerQuery) / (SHARDS - 1);
      out.push(
        `- **Flat** does exactly the same distance work split ${SHARDS} ways, so the difference in CPU per query (${f1.cpuMsPerQuery} -> ${f4.cpuMsPerQuery} ms) is the fixed cost of a shard call: ${round(perCall * 1000, 0)} us per extra shard with 1 in flight, ${round(perCallB * 1000, 0)} us with 2 (${f1b.cpuMsPerQuery} -> ${f4b.cpuMsPerQuery} ms; a 7 ms Flat search makes this estimate noisy, and 4 concurrent native calls on 2 cores add contention) (router fan-out and merge, Shard/ModelIndex validation and tier dispatch, the read lock, the hand-off to a libuv pool thread and back, FAISS call set-up, Hit objects). With one query in flight the ${SHARDS} shard searches run side by side on the libuv pool, so ${SHARDS} shards use both cores where one shard uses one: that parallelism, not less work, is why the ${SHARDS}-shard rows can be faster (negative overhead). With 2 in flight both configurations already keep both cores busy and the comparison is one of total work.`,
      );
    }
    const h1 = get('hnsw', 1, 'default', 1);
    const h4 = get('hnsw', SHARDS, 'default', 1);
    if (h1 && h4) {
      const model = SHARDS * (Math.log(N / SHARDS) / Math.log(N));
      out.push(
        `- **HNSW**: every shard runs a full graph search with the shard default efSearch=${DEFAULTS.efSearch} (at least k). A search visits roughly efSearch x M nodes per layer along a path that grows with log n, so ${SHARDS} graphs of n/${SHARDS} do about ${SHARDS} x log(n/${SHARDS})/log(n) = ${model.toFixed(1)}x the distance work of one graph of n; measured CPU per query is ${(h4.cpuMsPerQuery / h1.cpuMsPerQuery).toFixed(1)}x (${h1.cpuMsPerQuery} -> ${h4.cpuMsPerQuery} ms), the rest being the fixed per-call cost above. ${h4.recall >= h1.recall ? `The extra work buys recall nobody asked for (${h1.recall.toFixed(3)} on one shard, ${h4.recall.toFixed(3)} on ${SHARDS}), which a lower per-shard efSearch (a query parameter) trades back for speed.` : `Here it does not even buy recall (${h1.recall.toFixed(3)} on one shard, ${h4.recall.toFixed(3)} on ${SHARDS}: smaller graphs of these clustered vectors, each cluster split over ${SHARDS} shards, are not easier to search; not investigated further), so a lower per-shard efSearch (a query parameter) can only buy speed by losing more recall.`} The efSearch rows show the trade. Even at equal recall the gap would not close fully: each shard still pays the upper-layer descent and the fixed call cost, and efSearch cannot go below k=${K}.`,
      );
    }
    const i1 = get('ivfpq', 1, 'default', 1);
    const i4 = get('ivfpq', SHARDS, 'default', 1);
    if (i1 && i4) {
      const nlistOne = Number(/IVF(\d+)/.exec(ivfpqFactory(N, DIM))?.[1]);
      const nlistShard = Number(/IVF(\d+)/.exec(ivfpqFactory(Math.round(N / SHARDS), DIM))?.[1]);
      const p = DEFAULTS.nprobe;
      const codes = (SHARDS * p * (N / SHARDS / nlistShard)) / (p * (N / nlistOne));
      const rescore = K * DEFAULTS.rescoreFactor;
      out.push(
        `- **IVF-PQ**: the list count follows each shard's size (~4 sqrt(n)): IVF${nlistOne} for one shard, IVF${nlistShard} per shard for ${SHARDS}. nprobe=${p} on every shard therefore scans ${p}/${nlistShard} of each shard instead of ${p}/${nlistOne} of the whole: ${codes.toFixed(1)}x the PQ codes. Each shard also re-scores its own short list of k x rescoreFactor = ${rescore} candidates exactly, ${SHARDS * rescore} in all against ${rescore}, and runs its own coarse-quantizer search. Measured CPU per query ${i1.cpuMsPerQuery} -> ${i4.cpuMsPerQuery} ms. Recall is low for every IVF-PQ row at this dimension (the shard's default PQ${Math.max(1, Math.floor(DIM / 8))} keeps ${Math.max(1, Math.floor(DIM / 8))} bytes per ${DIM}-d vector, so ${rescore} re-scored candidates miss true neighbours); it is the same setting on both sides, so the comparison holds, but read these rows for cost, not quality. What the router does about it (the auto rows): rescoreFactor divided by the shard count (fixed when a tier is built, so in-process shards are built with it; the global top-${rescore} spreads over the shards about evenly, so each shard's top ${Math.round(rescore / SHARDS)} covers it), and nprobe kept: probing the same share of each shard's lists (the "share of lists" row) loses recall, because in ${DIM} dimensions a partition into half as many cells has cells barely wider, so a query's neighbourhood touches about as many of them.`,
      );
    }
    out.push('', ...autoFindings());
    return out;
  }

  /** What the automatic rows show, from the verdicts. */
  function autoFindings(): string[] {
    const out: string[] = [];
    for (const v of verdicts.filter((x) => x.router === 'auto' && x.params === 'default')) {
      const unscaled = verdicts.find(
        (x) =>
          x.tier === v.tier && x.inflight === v.inflight && x.router === 'unscaled' && x.params === 'default',
      );
      out.push(
        `- **${v.tier}, ${v.inflight} in flight, automatic**: CPU overhead ${pct(v.cpuOverheadPct)} (unscaled ${pct(unscaled?.cpuOverheadPct)}), recall ${v.recallMany.toFixed(3)} against the single shard's ${v.recallOne.toFixed(3)}: ${v.verdict}.`,
      );
    }
    for (const v of verdicts.filter((x) => x.router === 'clustered')) {
      const row = rows.find(
        (r) =>
          r.tier === v.tier && r.inflight === v.inflight && r.router === 'clustered' && r.params === v.params,
      );
      out.push(
        `- **${v.tier}, ${v.inflight} in flight, clustered, ${v.params}**: ${row?.shardsPerQuery ?? '?'} shards searched per query, CPU overhead ${pct(v.cpuOverheadPct)} (at equal recall ${v.equalRecallCpuOverheadPct === undefined ? 'outside the one-shard curve' : pct(v.equalRecallCpuOverheadPct)}), recall ${v.recallMany.toFixed(3)} against the single shard's ${v.recallOne.toFixed(3)}: ${v.verdict}.`,
      );
    }
    out.push(
      '',
      `Per-shard parameters cut the work each shard does, but not the fixed cost of a shard call (about what the Flat rows show) nor, for HNSW, the upper-layer descent every graph pays; with hash partitioning each query still visits every shard. The clustered router (\`partitioning: { kind: 'cluster' }\` of \`createRouter\`) searches the shard of the query's nearest centroid, then only the shards whose best centroid score plus the map's calibrated slack reaches the k-th score found (\`search-cluster/src/router/probe-plan.ts\`). How few shards that is depends on the data: ${FAMILIES === undefined ? `this run's centres are independent random directions (no \`--families\`), nearly orthogonal in ${DIM} dimensions, so no coarse clustering keeps a query's neighbours together and the rule must search most shards; \`--families\` draws the centres around family centres, a two-level structure like semantic groups of images.` : `this run's ${CLUSTERS} centres are drawn around ${FAMILIES} family centres (\`--families ${FAMILIES}\`), a two-level structure like semantic groups of images, which the map's clusters follow.`}`,
    );
    return out;
  }

  return analysis();
}
