import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusteredUnitVectors, sequentialIds } from '../faiss/synthetic.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import type { Shard } from '../shard/shard.ts';
import { type Hit, mergeTopK } from '../shard/topk.ts';
import { dot } from '../vector-math.ts';
import { type ClusterPlacement, openClusterPlacement, partitionMapPath } from './cluster-placement.ts';
import { createRouter, startInProcessShards } from './config.ts';
import { imbalance } from './partition-map.ts';
import { LocalReplica } from './replica.ts';
import { ClusterRouter } from './router.ts';
import { downReplica } from './test-replicas.ts';

const M = 'clip-test';
const D = 64;
const N = 3000;
const SHARDS = 4;
const K = 10;
// two-level clusters (families of centres), as semantic groups of images in CLIP space
const shape = { dimension: D, clusters: 150, families: 16, spread: 0.7 };
const data = clusteredUnitVectors({ ...shape, count: N, seed: 5 });
const queries = clusteredUnitVectors({ ...shape, count: 60, seed: 6, centreSeed: 5 });
const ids = sequentialIds(N, 1000n);
const vec = (all: Float32Array, i: number) => all.slice(i * D, i * D + D);
const partitioning = { kind: 'cluster' as const, clusters: 32 };
const tiers = { mainTier: 'flat' as const, autoRebuildHotVectors: 0, autoRebuildTombstoneRatio: 0 };

function exactTopK(query: Float32Array, live: Map<bigint, Float32Array>): bigint[] {
  const hits: Hit[] = [...live].map(([id, v]) => ({ id, score: dot(query, v) }));
  return mergeTopK([hits], K).map((h) => h.id);
}

function filledSource(): MemoryVectorSource {
  const source = new MemoryVectorSource();
  source.putMany(M, ids, data);
  return source;
}

interface Cluster {
  router: ClusterRouter;
  shards: Shard[];
  placement: ClusterPlacement;
  source: MemoryVectorSource;
}

/** What createRouter builds for cluster partitioning, with the shards in reach. */
async function cluster(): Promise<Cluster> {
  const source = filledSource();
  const { shards, placement, routerOptions } = await startInProcessShards({
    mode: 'in-process',
    shards: SHARDS,
    modelVersions: [{ name: M, dimension: D }],
    source,
    tiers,
    partitioning,
  });
  const router = new ClusterRouter(
    shards.map((shard) => [new LocalReplica(shard)]),
    { ...routerOptions, deadlineMs: 30_000, backoffMs: 60_000 },
  );
  opened.push(router);
  return { router, shards, placement: placement!, source };
}

const opened: { close(): Promise<void> }[] = [];
let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-cluster-'));
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
  await rm(dataDir, { recursive: true, force: true });
});

const liveOn = (c: Cluster, id: bigint) => c.shards.flatMap((shard, s) => (shard.isLive(M, id) ? [s] : []));
/** A row whose vector the placement sends to another shard than row `i`'s. */
function rowElsewhere(c: Cluster, i: number): number {
  const from = c.placement.shardOf(M, data, i * D);
  for (let j = 0; j < N; j++) if (c.placement.shardOf(M, data, j * D) !== from) return j;
  throw new Error('every row on one shard');
}

describe('cluster partitioning', () => {
  it('finds the exact top k while searching fewer shards than a full fan-out', async () => {
    const router = await createRouter({
      mode: 'in-process',
      shards: SHARDS,
      modelVersions: [{ name: M, dimension: D }],
      source: filledSource(),
      tiers,
      partitioning,
      // the probe rule alone, with the slack the map's sample calibrated
      probeAudit: { first: 0, every: 0 },
    });
    opened.push(router);
    const live = new Map([...ids].map((id, i) => [id, vec(data, i)]));
    let found = 0;
    let searched = 0;
    for (let q = 0; q < 60; q++) {
      const result = await router.search(M, vec(queries, q), K);
      expect(result.partial).toBe(false);
      const truth = new Set(exactTopK(vec(queries, q), live));
      found += result.hits.filter((h) => truth.has(h.id)).length;
      searched += result.shardsAnswered;
    }
    // flat main tiers search exactly: any loss is the probe rule's
    expect(found / (60 * K)).toBeGreaterThanOrEqual(0.99);
    expect(searched / 60).toBeLessThan(2);
    // a batch gives the same answers as one query at a time
    const batch = await router.searchBatch(M, [vec(queries, 0), vec(queries, 1)], K);
    expect(batch.results[1]).toEqual((await router.search(M, vec(queries, 1), K)).hits);
  });

  it('keeps shard sizes within 20% of the mean', async () => {
    const c = await cluster();
    const sizes = c.shards.map((shard) => shard.health().modelVersions[0]!.vectors);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(N);
    expect(imbalance(sizes)).toBeLessThanOrEqual(0.2);
  });

  it('routes an upsert to the shard of its vector, and a shard refuses a misrouted one', async () => {
    const c = await cluster();
    const fresh = vec(data, 7);
    const id = 99_999n;
    await c.router.upsert(M, [{ id, vector: fresh }]);
    expect(liveOn(c, id)).toEqual([c.placement.shardOf(M, fresh, 0)]);
    const wrong = c.shards[(c.placement.shardOf(M, fresh, 0) + 1) % SHARDS]!;
    await expect(wrong.upsert(M, BigInt64Array.of(5n), fresh)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('moves a re-uploaded id to its new shard: the old vector is never found again, also after a rebuild', async () => {
    const c = await cluster();
    const i = 3;
    const id = ids[i]!;
    const j = rowElsewhere(c, i);
    const before = liveOn(c, id);
    c.source.put(M, id, vec(data, j));
    await c.router.upsert(M, [{ id, vector: vec(data, j) }]);
    const after = [c.placement.shardOf(M, data, j * D)];
    expect(liveOn(c, id)).toEqual(after);
    expect(after).not.toEqual(before);
    const found = async () => {
      const atOld = await c.router.search(M, vec(data, i), K);
      const atNew = await c.router.search(M, vec(data, j), 1);
      return {
        old: atOld.hits.some((h) => h.id === id && h.score > 0.999),
        now: atNew.hits[0]!.score > 0.999,
      };
    };
    expect(await found()).toEqual({ old: false, now: true });
    await c.router.rebuild(M);
    expect(liveOn(c, id)).toEqual(after);
    expect(await found()).toEqual({ old: false, now: true });
  });

  it('deletes an id from whichever shard holds it; a filtered search still finds allowed ids on any shard', async () => {
    const c = await cluster();
    const gone = [ids[10]!, ids[11]!, 12_345_678n];
    const { deleted } = await c.router.delete(M, gone);
    expect(deleted).toBe(2);
    for (const id of gone) expect(liveOn(c, id)).toEqual([]);
    for (const i of [10, 11]) {
      const result = await c.router.search(M, vec(data, i), K);
      expect(result.hits.map((h) => h.id)).not.toContain(ids[i]);
    }
    // allowed ids from every shard, and a deleted one that must not come back
    const allowed = [
      ids[10]!,
      ...[0, 1, 2, 3].map(
        (s) => ids[[...Array(N).keys()].find((r) => c.placement.shardOf(M, data, r * D) === s)!]!,
      ),
    ];
    const filtered = await c.router.search(M, vec(queries, 0), K, { allowedIds: allowed });
    expect(filtered.hits.map((h) => h.id).sort()).toEqual(allowed.slice(1).sort());
  });

  it('fails over to another replica per shard, and widens the search when a shard is lost', async () => {
    const healthy = await cluster();
    const failover = new ClusterRouter(
      healthy.shards.map((shard, s) => [downReplica(`down:${s}`), new LocalReplica(shard, false)]),
      { placement: healthy.placement, deadlineMs: 30_000, backoffMs: 60_000 },
    );
    const lost = 0;
    const degraded = new ClusterRouter(
      healthy.shards.map((shard, s) =>
        s === lost ? [downReplica('gone')] : [new LocalReplica(shard, false)],
      ),
      { placement: healthy.placement, deadlineMs: 30_000, backoffMs: 60_000 },
    );
    for (let q = 0; q < 20; q++) {
      const want = await healthy.router.search(M, vec(queries, q), K);
      const got = await failover.search(M, vec(queries, q), K);
      expect(got).toEqual(want);
      const partial = await degraded.search(M, vec(queries, q), K);
      // every hit it can still give: the exact top k of the other shards' vectors
      const others = new Map(
        [...ids].flatMap((id, i) =>
          healthy.placement.shardOf(M, data, i * D) === lost ? [] : [[id, vec(data, i)] as const],
        ),
      );
      expect(partial.hits.map((h) => h.id)).toEqual(exactTopK(vec(queries, q), others));
      if (partial.partial) expect(partial.shardsAnswered).toBeLessThan(SHARDS);
    }
  });

  it('persists its map: a restart loads the same map and the snapshots it placed, and replays moves and deletes', async () => {
    const source = filledSource();
    const config = {
      mode: 'in-process' as const,
      shards: SHARDS,
      modelVersions: [{ name: M, dimension: D }],
      source,
      dataDir,
      tiers,
      partitioning,
    };
    const first = await createRouter(config);
    const map = await readFile(partitionMapPath(dataDir, M), 'utf8');
    await first.close();
    // while it was down: id 3 moved to another cluster's vector, id 4 was deleted
    const placement = await openClusterPlacement({
      ...config,
      shardCount: SHARDS,
      dataDir,
      factory: faissFactory,
    });
    const from = placement.shardOf(M, data, 3 * D);
    let j = 0;
    while (placement.shardOf(M, data, j * D) === from) j++;
    source.put(M, ids[3]!, vec(data, j));
    source.delete(M, ids[4]!);
    const snapshots = source.reads.snapshots;
    const second = await createRouter(config);
    opened.push(second);
    expect(await readFile(partitionMapPath(dataDir, M), 'utf8')).toBe(map);
    // loaded from snapshots and refilled, not rebuilt (one read was the placement's, none the shards')
    expect(source.reads.snapshots).toBe(snapshots);
    // ids[3] now scores 1 at row j's vector (as row j does) and no longer at its old one
    const near3 = await second.search(M, vec(data, j), 2);
    expect(near3.hits.map((h) => h.id).sort()).toEqual([ids[3]!, ids[j]!].sort());
    const atOld = await second.search(M, vec(data, 3), K);
    expect(atOld.hits.some((h) => h.id === ids[3] && h.score > 0.999)).toBe(false);
    expect((await second.search(M, vec(data, 4), K)).hits.map((h) => h.id)).not.toContain(ids[4]);
    const stats = await second.stats();
    const holders = stats.shards.filter((s) => s.replicas[0]!.stats!.modelVersions[0]!.hot.vectors > 0);
    expect(holders.length).toBeGreaterThan(0);
  });

  it('refuses clearly where it cannot work: remote shards, an empty source, a model version added later', async () => {
    await expect(
      createRouter({
        mode: 'remote',
        replicas: [['http://127.0.0.1:1'], ['http://127.0.0.1:2']],
        partitioning,
      }),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(
      createRouter({
        mode: 'in-process',
        shards: SHARDS,
        modelVersions: [{ name: M, dimension: D }],
        source: new MemoryVectorSource(),
        partitioning,
      }),
    ).rejects.toMatchObject({ code: 'NO_PARTITION_MAP' });
    const c = await cluster();
    await expect(c.router.addModelVersion('clip-next', D)).rejects.toMatchObject({ code: 'UNSUPPORTED' });
  });
});
