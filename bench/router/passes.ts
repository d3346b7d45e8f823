import { loadavg } from 'node:os';
import { recallAtK } from '../../search-cluster/src/faiss/synthetic.ts';
import {
  ClusterRouter,
  type RouterSearchOptions,
  type ShardRouter,
} from '../../search-cluster/src/router/router.ts';
import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import { log } from '../support/machine.ts';
import { percentile, round } from '../support/stats.ts';
import type { BenchData } from './data.ts';
import type { RouterKind, Row } from './rows.ts';
import { MODEL } from './settings.ts';

/** What a pass needs besides the router: the queries, their truth, k and the passes per variant. */
export interface PassContext {
  data: BenchData;
  queries: number;
  k: number;
  repeats: number;
}

interface Pass {
  found: BigInt64Array;
  latencies: Float64Array;
  wallMs: number;
  cpuMs: number;
  partial: number;
  shardsAnswered: number;
}

async function pass(
  router: ShardRouter,
  options: RouterSearchOptions,
  inflight: number,
  { data, queries, k }: PassContext,
  count = queries,
): Promise<Pass> {
  const found = new BigInt64Array(count * k).fill(-1n);
  const latencies = new Float64Array(count);
  let next = 0;
  let partial = 0;
  let shardsAnswered = 0;
  const loop = async () => {
    while (next < count) {
      const q = next++;
      const started = performance.now();
      const result = await router.search(MODEL, data.queryList[q]!, k, options);
      latencies[q] = performance.now() - started;
      if (result.partial) partial++;
      shardsAnswered += result.shardsAnswered;
      result.hits.forEach((h, j) => {
        found[q * k + j] = h.id;
      });
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: inflight }, loop));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { found, latencies, wallMs, cpuMs: (used.user + used.system) / 1000, partial, shardsAnswered };
}

export interface Variant {
  router: ShardRouter;
  kind: RouterKind;
  shards: number;
  params: string;
  options: RouterSearchOptions;
  /** Index of the 1-shard variant this one is compared with. Default 0 (1 shard, defaults). */
  versus?: number;
}

/** Runs every variant at one in-flight count, in rotating order, `repeats` times; keeps each one's fastest pass. */
export async function measure(
  tier: MainTierKind,
  variants: Variant[],
  inflight: number,
  context: PassContext,
): Promise<Row[]> {
  const { data, queries, k, repeats } = context;
  const rows: Row[] = [];
  // warm-up on other queries: the clustered routers' probe audit learns its slack from these
  const warm = { ...context, data: { ...data, queryList: data.warmList } };
  for (const v of variants) await pass(v.router, v.options, 1, warm, data.warmList.length);
  const best: (Pass | undefined)[] = variants.map(() => undefined);
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < variants.length; i++) {
      const at = (i + r) % variants.length;
      const v = variants[at]!;
      const result = await pass(v.router, v.options, inflight, context);
      if (!best[at] || result.wallMs < best[at]!.wallMs) best[at] = result;
    }
  }
  variants.forEach((v, i) => {
    const p = best[i]!;
    const baseline = best[v.versus ?? 0]!;
    const sorted = Float64Array.from(p.latencies).sort();
    const row: Row = {
      tier,
      shards: v.shards,
      router: v.kind,
      params: v.params,
      inflight,
      recall: round(recallAtK(data.truth, p.found, k), 4),
      qps: Math.round((queries / p.wallMs) * 1000),
      p50Ms: round(percentile(sorted, 50), 3),
      p99Ms: round(percentile(sorted, 99), 3),
      cpuMsPerQuery: round(p.cpuMs / queries, 3),
      partial: p.partial,
      shardsPerQuery: round(p.shardsAnswered / queries, 2),
      load1: round(loadavg()[0] ?? 0, 2),
    };
    const audit = v.router instanceof ClusterRouter ? v.router.probeAudit(MODEL) : null;
    if (audit)
      row.probeAudit = {
        builtSlack: round(audit.builtSlack, 4),
        slack: round(audit.slack, 4),
        audited: audit.audited,
        missed: audit.missed,
      };
    if (v.shards > 1) {
      row.overheadPct = round((p.wallMs / baseline.wallMs - 1) * 100, 1);
      row.cpuOverheadPct = round((p.cpuMs / baseline.cpuMs - 1) * 100, 1);
      row.versus = variants[v.versus ?? 0]!.params;
    }
    rows.push(row);
    log(
      `${tier} ${v.kind} shards=${row.shards} ${row.params} inflight=${inflight}: recall ${row.recall.toFixed(3)}, ` +
        `${row.qps} QPS, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, cpu ${row.cpuMsPerQuery} ms/q` +
        (row.cpuOverheadPct !== undefined
          ? `, overhead ${row.overheadPct}% wall, ${row.cpuOverheadPct}% cpu vs ${row.versus}`
          : ''),
    );
  });
  return rows;
}
