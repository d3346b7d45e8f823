import { Gauge, type Registry } from 'prom-client';
import { exactTopK, type Hit, shardOf } from '../../../search-cluster/src/index.ts';
import type { ClusterClient, ClusterStats } from '../cluster/cluster.client.ts';
import type { CanaryRepository } from './canary.repository.ts';

const K = 10;

export type QueryKind = 'text' | 'image';

/** recall@10 of one model version on the shards of one tier kind, for one kind of query. */
export interface RecallMeasurement {
  modelVersion: string;
  /** The main-tier kind of the shards measured (flat, hnsw, ivfpq; hot: no main tier yet), or `all`. */
  tier: string;
  queryKind: QueryKind;
  queries: number;
  /** Exact top-10 neighbours on those shards that the serving path also returned, over all of them. */
  recallAt10: number;
}

export interface RecallCanaryDeps {
  cluster: ClusterClient;
  quality: CanaryRepository;
  /** Encodes text queries for the process's own model version. */
  encoder: { modelVersion: string; encodeTexts(texts: string[]): Promise<Float32Array[]> };
  /** The golden set's text queries (model lifecycle). Default: none, only logged queries. */
  goldenQueries?: () => Promise<string[]>;
  /** Queries per kind. Default 50. */
  queriesPerKind?: number;
}

/** Each shard's main-tier kind for a model version, from the first replica that reports it. */
export function tierOfShards(stats: ClusterStats, modelVersion: string): string[] {
  return stats.shards.map((shard) => {
    for (const replica of shard.replicas) {
      const model = replica.stats?.modelVersions.find((m) => m.modelVersion === modelVersion);
      if (model) return model.main ? model.main.kind : 'hot';
    }
    return 'unknown';
  });
}

/**
 * Compares the serving path's answers (cluster.search, k = 10) with exact top-10 answers over
 * the version's vectors of record, split by the tier kind of the shard that owns each true
 * neighbour: a shard on a compressed tier (IVF-PQ) loses recall the others do not.
 */
export function recallByTier(
  modelVersion: string,
  queryKind: QueryKind,
  exact: Hit[][],
  served: Hit[][],
  shardTiers: string[],
): RecallMeasurement[] {
  const found = new Map<string, number>();
  const wanted = new Map<string, number>();
  exact.forEach((truth, q) => {
    const got = new Set((served[q] ?? []).map((h) => h.id));
    for (const hit of truth) {
      const tier = shardTiers[shardOf(hit.id, shardTiers.length)] ?? 'unknown';
      for (const t of [tier, 'all']) {
        wanted.set(t, (wanted.get(t) ?? 0) + 1);
        if (got.has(hit.id)) found.set(t, (found.get(t) ?? 0) + 1);
      }
    }
  });
  return [...wanted.entries()].map(([tier, n]) => ({
    modelVersion,
    tier,
    queryKind,
    queries: exact.length,
    recallAt10: (found.get(tier) ?? 0) / n,
  }));
}

/** One canary run: every model version the shards serve, text and image queries apart. */
export async function runRecallCanary(deps: RecallCanaryDeps): Promise<RecallMeasurement[]> {
  const perKind = deps.queriesPerKind ?? 50;
  const stats = await deps.cluster.stats();
  const versions = new Set(
    stats.shards.flatMap((s) =>
      s.replicas.flatMap((r) => r.stats?.modelVersions.map((m) => m.modelVersion) ?? []),
    ),
  );
  const measurements: RecallMeasurement[] = [];
  for (const modelVersion of versions) {
    const shardTiers = tierOfShards(stats, modelVersion);
    const byKind: [QueryKind, Float32Array[]][] = [
      ['image', (await deps.quality.sampleEmbeddings(modelVersion, perKind)).map((e) => e.vector)],
    ];
    // text can be encoded only for this process's model version
    if (modelVersion === deps.encoder.modelVersion) {
      const golden = (await deps.goldenQueries?.()) ?? [];
      const logged = await deps.quality.recentTextQueries(modelVersion, perKind);
      const texts = [...new Set([...golden, ...logged])].slice(0, perKind);
      byKind.push(['text', texts.length ? await deps.encoder.encodeTexts(texts) : []]);
    }
    for (const [kind, queries] of byKind) {
      if (queries.length === 0) continue;
      const exact = await exactTopK(deps.quality.embeddings(modelVersion), queries, K);
      const served: Hit[][] = [];
      for (const q of queries) served.push((await deps.cluster.search(modelVersion, q, K)).hits);
      measurements.push(...recallByTier(modelVersion, kind, exact, served, shardTiers));
    }
  }
  return measurements;
}

/** The canary's gauge (the alert on recall under 0.95 reads it, infra/prometheus/). */
export function createRecallCanaryGauge(registry: Registry) {
  return new Gauge({
    name: 'pixelfind_recall_canary_recall_at_10',
    help: "recall@10 of the serving path against exact search over the same version's vectors, by model version, tier kind (or all) and query kind (text, image), from the last canary run.",
    labelNames: ['model_version', 'tier', 'query_kind'] as const,
    registers: [registry],
  });
}
