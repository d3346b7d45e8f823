import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresVectorSource, shardOf } from '../../../search-cluster/src/index.ts';
import { createRouter } from '../../../search-cluster/src/router/config.ts';
import type { ShardRouter } from '../../../search-cluster/src/router/router.types.ts';
import { row, unitVectors } from '../../../search-cluster/src/shard/test-vectors.ts';
import { type Backend, createEmbeddedBackend } from '../../../test/support/backends.ts';
import { type ClusterClient, clusterClientOver } from '../cluster/cluster.client.ts';
import { createCanaryRepository } from './canary.repository.ts';
import { insertEmbedded } from './quality.test-support.ts';
import { recallByTier, runRecallCanary } from './recall-canary.ts';

const MV = 'canary-v1';
const D = 16;
const N = 400;
const hits = (...ids: number[]) => ids.map((id, i) => ({ id: BigInt(id), score: 1 - i / 100 }));

describe('recallByTier', () => {
  it('counts the true neighbours the serving path returned, per tier of the owning shard and overall', () => {
    // two shards: ids 1..4 land on some shard each; one tier per shard
    const exact = [hits(1, 2, 3, 4)];
    const served = [hits(1, 3, 9, 10)];
    const tiers = ['flat', 'ivfpq'];
    const result = recallByTier(MV, 'text', exact, served, tiers);
    const all = result.find((m) => m.tier === 'all')!;
    expect(all).toMatchObject({ modelVersion: MV, queryKind: 'text', queries: 1, recallAt10: 0.5 });
    // per tier: the true neighbours owned by that tier's shard, and how many of them were served
    const byTier = { flat: [0, 0], ivfpq: [0, 0] };
    for (const id of [1, 2, 3, 4]) {
      const counts = byTier[tiers[shardOf(BigInt(id), 2)] as 'flat' | 'ivfpq'];
      counts[1]!++;
      if (id === 1 || id === 3) counts[0]!++;
    }
    for (const [tier, [found, wanted]] of Object.entries(byTier)) {
      const m = result.find((x) => x.tier === tier);
      if (wanted === 0) expect(m).toBeUndefined();
      else expect(m?.recallAt10).toBe(found! / wanted!);
    }
  });
});

describe('runRecallCanary on a small index', () => {
  let backend: Backend;
  let router: ShardRouter;
  let cluster: ClusterClient;
  const vectors = unitVectors(N, D, 11);
  const textQueries = new Map<string, Float32Array>();

  beforeAll(async () => {
    backend = await createEmbeddedBackend();
    for (let i = 0; i < N; i++) await insertEmbedded(backend.db, MV, row(vectors, i, D));
    // logged text queries; the fake encoder maps each to a vector near an indexed one
    for (const [i, text] of ['red', 'blue', 'green'].entries()) {
      textQueries.set(text, row(unitVectors(1, D, 100 + i), 0, D));
      await backend.db.query(
        `INSERT INTO search_queries (id, query_text, result_ids, model_version, ranker_version, latency_ms)
         VALUES (gen_random_uuid(), $1, '{}', $2, 'r1', 1)`,
        [text, MV],
      );
    }
    router = await createRouter({
      mode: 'in-process',
      shards: 2,
      modelVersions: [{ name: MV, dimension: D }],
      source: new PostgresVectorSource(backend.db),
    });
    cluster = clusterClientOver(router);
  });
  afterAll(async () => {
    await router.close();
    await backend.dispose();
  });

  const encoder = {
    modelVersion: MV,
    encodeTexts: async (texts: string[]) => texts.map((t) => textQueries.get(t)!),
  };

  it('measures recall 1 for exact (Flat) shards, text and image queries apart', async () => {
    const measurements = await runRecallCanary({
      cluster,
      quality: createCanaryRepository(backend.db),
      encoder,
      queriesPerKind: 20,
    });
    const overall = measurements.filter((m) => m.tier === 'all');
    expect(overall.map((m) => [m.queryKind, m.queries, m.recallAt10]).sort()).toEqual([
      ['image', 20, 1],
      ['text', 3, 1],
    ]);
    // 400 vectors sit in a Flat main tier on both shards
    expect(new Set(measurements.map((m) => m.tier))).toEqual(new Set(['all', 'flat']));
  });

  it('sees the loss when the serving path drops half of every answer', async () => {
    const lossy: ClusterClient = {
      ...cluster,
      search: async (mv, q, k, options) => {
        const answer = await cluster.search(mv, q, k, options);
        return { ...answer, hits: answer.hits.filter((_, i) => i % 2 === 0) };
      },
    };
    const measurements = await runRecallCanary({
      cluster: lossy,
      quality: createCanaryRepository(backend.db),
      encoder,
      queriesPerKind: 10,
    });
    // five of ten served: at most half found (a tie at rank 10 may cost one more)
    for (const m of measurements.filter((x) => x.tier === 'all')) {
      expect(m.recallAt10).toBeLessThanOrEqual(0.5);
      expect(m.recallAt10).toBeGreaterThanOrEqual(0.45);
    }
  });
});
