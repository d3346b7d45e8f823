import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import { round } from '../support/stats.ts';
import { type BuildRow, isFailover, type RouterKind, type Row } from './rows.ts';
import type { Settings } from './settings.ts';

/** An overhead as a signed percentage; empty when there is none. */
export const pct = (x: number | undefined) => (x === undefined ? '' : `${x > 0 ? '+' : ''}${x}%`);

export interface Verdict {
  tier: MainTierKind;
  inflight: number;
  router: RouterKind;
  params: string;
  overheadPct: number;
  cpuOverheadPct: number;
  recallOne: number;
  recallMany: number;
  /**
   * CPU per query against the single shard's at the same recall (its recall-CPU curve, linear
   * between neighbouring points), minus 1; absent when the row's recall is outside the curve.
   */
  equalRecallCpuOverheadPct?: number;
  verdict: string;
}

/** A point of the single shard's recall-CPU curve. */
export interface CurvePoint {
  recall: number;
  cpuMsPerQuery: number;
  params: string;
}

/**
 * The single shard's cheapest CPU per query for each recall its rows reach: the lower convex hull
 * of its (recall, CPU) points from the cheapest row up to the best recall (recall and CPU both
 * rising, CPU per unit of recall never falling). A point on the hull between two rows is what a
 * shard would spend running one setting for part of the queries and the other for the rest, so
 * it is reachable. A row that adds a sliver of recall at a high price (nprobe 128 after 48 for
 * 0.0004) is left out: linear reading between it and its neighbour would credit one shard with
 * that price for every recall above it.
 */
export function recallCurve(ones: Row[]): CurvePoint[] {
  const rising: CurvePoint[] = [];
  for (const r of [...ones].sort((a, b) => a.cpuMsPerQuery - b.cpuMsPerQuery || b.recall - a.recall)) {
    if (rising.length === 0 || r.recall > rising[rising.length - 1]!.recall)
      rising.push({ recall: r.recall, cpuMsPerQuery: r.cpuMsPerQuery, params: r.params });
  }
  // monotone chain over points sorted by recall: drop a point at or above the segment of its neighbours
  const hull: CurvePoint[] = [];
  for (const point of rising) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      const cross =
        (b.recall - a.recall) * (point.cpuMsPerQuery - a.cpuMsPerQuery) -
        (b.cpuMsPerQuery - a.cpuMsPerQuery) * (point.recall - a.recall);
      if (cross <= 0) hull.pop();
      else break;
    }
    hull.push(point);
  }
  return hull;
}

/** The curve's CPU per query at `recall`, linear between its neighbouring points; undefined outside it. */
export function cpuAtRecall(curve: CurvePoint[], recall: number): number | undefined {
  const first = curve[0];
  if (!first || recall < first.recall) return undefined;
  for (let i = 0; i < curve.length; i++) {
    const at = curve[i]!;
    if (recall === at.recall) return at.cpuMsPerQuery;
    const next = curve[i + 1];
    if (next && recall < next.recall) {
      const t = (recall - at.recall) / (next.recall - at.recall);
      return at.cpuMsPerQuery + t * (next.cpuMsPerQuery - at.cpuMsPerQuery);
    }
  }
  return undefined;
}

/** Every multi-shard row of the router's own against the 1-shard row it is compared with. */
export function routerVerdicts(
  { tiers: TIERS, inflight: INFLIGHT, shards: SHARDS, targetPct: TARGET }: Settings,
  rows: Row[],
): Verdict[] {
  const sameParamsMet = (r: Row, one: Row) =>
    r.cpuOverheadPct !== undefined && r.cpuOverheadPct <= TARGET && r.recall >= one.recall - 0.0005;
  const verdicts: Verdict[] = [];
  for (const tier of TIERS) {
    for (const inflight of INFLIGHT) {
      const manyRows = rows.filter(
        (r) => r.tier === tier && r.inflight === inflight && r.shards === SHARDS && !isFailover(r.router),
      );
      const curve = recallCurve(
        rows.filter((o) => o.tier === tier && o.inflight === inflight && o.shards === 1),
      );
      const oneOf = (r: Row) =>
        rows.find(
          (o) => o.tier === tier && o.inflight === inflight && o.shards === 1 && o.params === r.versus,
        )!;
      const verdictRow = (r: Row): Verdict => {
        const one = oneOf(r);
        const atRecall = cpuAtRecall(curve, r.recall);
        const equalRecallCpuOverheadPct =
          atRecall === undefined ? undefined : round((r.cpuMsPerQuery / atRecall - 1) * 100, 1);
        const equalRecallMet = equalRecallCpuOverheadPct !== undefined && equalRecallCpuOverheadPct <= TARGET;
        return {
          tier,
          inflight,
          router: r.router,
          params: r.params,
          overheadPct: r.overheadPct!,
          cpuOverheadPct: r.cpuOverheadPct!,
          recallOne: one.recall,
          recallMany: r.recall,
          ...(equalRecallCpuOverheadPct === undefined ? {} : { equalRecallCpuOverheadPct }),
          // where one shard's curve covers the recall, that comparison decides: "the same whole
          // parameters" need not be the same work (one shard's IVF default is its calibrated nprobe,
          // a clustered router's the whole nprobe it sends)
          verdict:
            equalRecallCpuOverheadPct === undefined
              ? sameParamsMet(r, one)
                ? 'met'
                : r.recall < one.recall - 0.0005
                  ? r.cpuOverheadPct! <= TARGET
                    ? 'not met (recall lost)'
                    : 'not met (recall lost, CPU)'
                  : 'not met (CPU)'
              : sameParamsMet(r, one) && equalRecallMet
                ? 'met'
                : equalRecallMet
                  ? 'met (equal recall)'
                  : r.recall < one.recall - 0.0005
                    ? r.cpuOverheadPct! <= TARGET
                      ? 'not met (recall lost)'
                      : 'not met (recall lost, CPU)'
                    : 'not met (CPU)',
        };
      };
      // the router's own rows: unscaled and automatic, at the defaults and at every whole setting
      for (const r of manyRows.filter(
        (r) => r.router === 'auto' || r.router === 'clustered' || r.params === 'default',
      )) {
        verdicts.push(verdictRow(r));
      }
      // the fastest hand-set (unscaled) efSearch that keeps the single shard's recall, if any
      const one = rows.find(
        (o) => o.tier === tier && o.inflight === inflight && o.shards === 1 && o.params === 'default',
      )!;
      const tuned = manyRows
        .filter((r) => r.router === 'unscaled' && r.params !== 'default' && r.recall >= one.recall - 0.0005)
        .sort((x, y) => x.cpuMsPerQuery - y.cpuMsPerQuery)[0];
      if (tuned) verdicts.push({ ...verdictRow(tuned), params: `${tuned.params} (hand-set)` });
    }
  }
  return verdicts;
}

/** Shard sizes of every multi-shard build: largest deviation from the mean. */
export function shardBalance(builds: BuildRow[]) {
  return builds
    .filter((b) => b.shards > 1)
    .map((b) => {
      const mean = b.vectorsPerShard.reduce((x, y) => x + y, 0) / b.vectorsPerShard.length;
      const worst = Math.max(...b.vectorsPerShard.map((v) => Math.abs(v / mean - 1)));
      return {
        tier: b.tier,
        router: b.router,
        sizes: b.vectorsPerShard,
        maxDeviationPct: round(worst * 100, 1),
      };
    });
}
