import type { MainTier } from '../shard/main-tier.ts';
import { exactTopKOfRows } from './exact-search.ts';

/** What a build measured of its IVF tier's nprobe, kept in the snapshot (meta.json). */
export interface NprobeCalibration {
  /** The nprobe the tier serves when a query names none. */
  nprobe: number;
  /** The default the rule gives without a calibration (`defaultNprobe`): the ceiling. */
  ceiling: number;
  /** recall@k of the serving path (PQ short list + exact re-score) at each nprobe tried. */
  points: { nprobe: number; recall: number }[];
  queries: number;
  k: number;
  /** The recall target the choice used (absent in snapshots written before it existed). */
  target?: number;
}

export interface CalibrationOptions {
  /** Sample queries (stored rows, spread over the tier). Default 200: recall@10's standard error on 2,000 neighbours is ~0.003 near 0.98. */
  queries?: number;
  /**
   * Neighbours per query. Default 10: recall@10 is what the recall canary watches in production
   * (api/src/quality/recall-canary.ts). At a search's top-K (100) a stored row's neighbours past
   * its own group sit in a dense band that 4-bit codes cannot order (recall@100 ~0.39 at any
   * nprobe on bench:search's corpus, where its text queries reach 0.95), so that measure follows
   * the codes, not the lists.
   */
  k?: number;
  /** recall@k a smaller nprobe may lose against the ceiling's. Default 0.005. */
  tolerance?: number;
  /** recall@k at which a smaller nprobe is enough whatever the ceiling gains. Default CALIBRATION_RECALL_TARGET. */
  target?: number;
}

/**
 * recall@10 on the sample (stored image rows, before TEXT_QUERY_MARGIN) that is enough: more
 * lists past it cost scan time for a gain nobody is served by. The recall canary alerts under 0.95
 * on served queries (api/src/quality/recall-canary.ts, infra/prometheus/); this keeps 0.02 above
 * that on image queries, and text queries get TEXT_QUERY_MARGIN times the lists on top. At 1M x 512
 * on bench:search the tolerance rule alone (within 0.005 of the ceiling) chose the ceiling, 256 lists,
 * for image-row recall 0.995 against 0.978 at 32, while the served text queries' recall was the
 * same from 32 lists to 512 (bench/results/search.md).
 */
export const CALIBRATION_RECALL_TARGET = 0.97;

/**
 * How many times the image-query nprobe text queries get. The sample queries are stored image
 * vectors, and text queries sit apart from the images in CLIP space, needing more lists for the
 * same recall: at 100k x 512 bench:ann's text queries needed 1/2 of the lists where image queries
 * needed 1/4 (main-tier.ts, MIN_NPROBE_SHARE). A shard cannot tell the kinds apart, so every query
 * gets the margin.
 */
export const TEXT_QUERY_MARGIN = 2;

/**
 * The smallest nprobe that serves this tier's own data as well as the default does. A tier's lists
 * hold its data's structure: where neighbours sit in few lists (grouped data, as CLIP libraries
 * are: near-duplicates, scenes, subjects) the default 1/8 of the lists (capped at 256) scans codes
 * no answer comes from; where they spread, it is needed. Measured, not guessed: `queries` stored
 * rows are searched through the serving path (PQ short list, exact re-score) at nprobe = the
 * configured value, doubled, ... up to the ceiling, against an exact search of every row (itself
 * left out), and the smallest nprobe that reaches `target` recall@10 or comes within `tolerance`
 * of the ceiling's wins, times TEXT_QUERY_MARGIN, at most the ceiling. So a calibration only ever lowers the default, and only
 * where the lower value lost nothing measurable.
 */
export async function calibrateNprobe(
  tier: MainTier,
  rows: { ids: BigInt64Array; vectors: Float32Array },
  configured: number,
  options: CalibrationOptions = {},
): Promise<NprobeCalibration> {
  const ceiling = tier.params.nprobe;
  const n = rows.ids.length;
  const d = tier.dimension;
  const k = Math.max(1, Math.min(options.k ?? 10, n - 1));
  const count = Math.max(1, Math.min(options.queries ?? 200, n));
  const tolerance = options.tolerance ?? 0.005;
  const target = options.target ?? CALIBRATION_RECALL_TARGET;
  // rows spread over the tier (its arrival order), each left out of its own answer
  const picks = Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * n) / count));
  const queries = picks.map((row) => rows.vectors.subarray(row * d, (row + 1) * d));
  const selves = picks.map((row) => rows.ids[row]!);
  const truth = (await exactTopKOfRows(rows.ids, rows.vectors, queries, k + 1)).map(
    (hits, q) =>
      new Set(
        hits
          .filter((h) => h.id !== selves[q])
          .slice(0, k)
          .map((h) => h.id),
      ),
  );
  const packed = new Float32Array(count * d);
  for (const [q, query] of queries.entries()) packed.set(query, q * d);

  const recallAt = async (nprobe: number) => {
    const found = await tier.search(packed, count, k + 1, { nprobe });
    let hit = 0;
    let total = 0;
    for (const [q, hits] of found.entries()) {
      const want = truth[q]!;
      total += want.size;
      for (const h of hits.filter((h) => h.id !== selves[q]).slice(0, k)) if (want.has(h.id)) hit++;
    }
    return total === 0 ? 1 : hit / total;
  };

  const ladder: number[] = [];
  for (let p = Math.max(1, configured); p < ceiling; p *= 2) ladder.push(p);
  ladder.push(ceiling);
  const points: { nprobe: number; recall: number }[] = [];
  for (const nprobe of ladder) points.push({ nprobe, recall: await recallAt(nprobe) });
  const best = points.at(-1)!.recall;
  const enough = points.find((p) => p.recall >= Math.min(target, best - tolerance))!.nprobe;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    nprobe: Math.min(ceiling, Math.max(configured, enough * TEXT_QUERY_MARGIN)),
    ceiling,
    points: points.map((p) => ({ nprobe: p.nprobe, recall: round(p.recall) })),
    queries: count,
    k,
    target,
  };
}
