import { setFaissThreads } from '../../search-cluster/src/faiss/faiss-index.ts';
import { MemoryVectorSource } from '../../search-cluster/src/rebuild/vector-source.ts';
import {
  type ClusterPartitioning,
  openClusterPlacement,
} from '../../search-cluster/src/router/cluster-placement.ts';
import { createRouter, inProcessTiers } from '../../search-cluster/src/router/config.ts';
import { LocalReplica } from '../../search-cluster/src/router/replica.ts';
import { ClusterRouter, type ShardRouter } from '../../search-cluster/src/router/router.ts';
import { shardRescoreFactor } from '../../search-cluster/src/router/shard-params.ts';
import { downReplica } from '../../search-cluster/src/router/test-replicas.ts';
import { faissFactory } from '../../search-cluster/src/shard/faiss-factory.ts';
import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import {
  DEFAULT_TIER_OPTIONS,
  silentLogger,
  type TierOptions,
} from '../../search-cluster/src/shard/options.ts';
import { Shard } from '../../search-cluster/src/shard/shard.ts';
import { log } from '../support/machine.ts';
import { round } from '../support/stats.ts';
import type { BenchData } from './data.ts';
import type { BuildRow, RouterKind } from './rows.ts';
import { MODEL } from './settings.ts';

export interface Built {
  router: ShardRouter;
  /** auto only: the same shards behind 2 replicas each, the first one down. */
  failover?: ShardRouter;
  /** clustered only: the same shards and map, every probed shard given the whole parameters. */
  whole?: ShardRouter;
}

/**
 * one / unscaled: `createRouter` (unscaled with `scaleSearchParams: false`). auto: the shards
 * `createRouter` would make (tiers from `inProcessTiers`, so rescoreFactor / shards) behind a
 * ClusterRouter that scales efSearch, plus a failover router over the same shards. Returns the
 * routers and the build's row.
 */
export async function buildRouter(
  tier: MainTierKind,
  shards: number,
  kind: RouterKind,
  {
    dim,
    data,
    clustered,
    rescoreFactor,
  }: { dim: number; data: BenchData; clustered: ClusterPartitioning; rescoreFactor?: number },
): Promise<{ built: Built; build: BuildRow }> {
  const { base, ids } = data;
  const source = new MemoryVectorSource();
  const tiers: Partial<TierOptions> = {
    mainTier: tier,
    autoRebuildHotVectors: 0,
    autoRebuildTombstoneRatio: 0,
    ...(rescoreFactor === undefined ? {} : { rescoreFactor }),
  };
  // a slow pass on a busy machine must not turn into partial answers
  const routerOptions = { deadlineMs: 60_000 };
  let built: Built;
  let mapSeconds: number | undefined;
  if (kind === 'clustered') {
    // createRouter builds the map from a sample of the shards' source before they start; here the
    // map reads a copy of the same vectors, so the shards start empty and build once, in rebuild()
    const mapSource = new MemoryVectorSource();
    mapSource.putMany(MODEL, ids, base);
    const started = performance.now();
    const placement = await openClusterPlacement({
      partitioning: clustered,
      modelVersions: [{ name: MODEL, dimension: dim }],
      shardCount: shards,
      source: mapSource,
      dataDir: undefined,
      factory: faissFactory,
    });
    mapSeconds = (performance.now() - started) / 1000;
    // what createRouter makes for `partitioning: { kind: 'cluster' }`, with the shards in reach for failover
    const list = Array.from(
      { length: shards },
      (_, index) =>
        new Shard({
          partition: { index, count: shards },
          placement,
          modelVersions: [{ name: MODEL, dimension: dim }],
          factory: faissFactory,
          log: silentLogger,
          source,
          tiers,
        }),
    );
    await Promise.all(list.map((shard) => shard.start()));
    built = {
      router: new ClusterRouter(
        list.map((shard) => [new LocalReplica(shard)]),
        { ...routerOptions, placement },
      ),
      whole: new ClusterRouter(
        list.map((shard) => [new LocalReplica(shard, false)]),
        { ...routerOptions, placement, scaleSearchParams: false },
      ),
      failover: new ClusterRouter(
        list.map((shard, i) => [downReplica(`down:${i}`), new LocalReplica(shard, false)]),
        { ...routerOptions, placement, backoffMs: 60_000 },
      ),
    };
  } else if (kind === 'auto') {
    const shardTiers = inProcessTiers({ tiers }, shards);
    const list = Array.from(
      { length: shards },
      (_, index) =>
        new Shard({
          partition: { index, count: shards },
          modelVersions: [{ name: MODEL, dimension: dim }],
          factory: faissFactory,
          log: silentLogger,
          source,
          ...(shardTiers ? { tiers: shardTiers } : {}),
        }),
    );
    await Promise.all(list.map((shard) => shard.start()));
    built = {
      router: new ClusterRouter(
        list.map((shard) => [new LocalReplica(shard)]),
        routerOptions,
      ),
      failover: new ClusterRouter(
        list.map((shard, i) => [downReplica(`down:${i}`), new LocalReplica(shard, false)]),
        { ...routerOptions, backoffMs: 60_000 },
      ),
    };
  } else {
    built = {
      router: await createRouter({
        mode: 'in-process',
        shards,
        modelVersions: [{ name: MODEL, dimension: dim }],
        source,
        tiers,
        ...routerOptions,
        ...(kind === 'unscaled' ? { scaleSearchParams: false } : {}),
      }),
    };
  }
  const router = built.router;
  source.putMany(MODEL, ids, base);
  setFaissThreads(0);
  const started = performance.now();
  const reports = await router.rebuild(MODEL);
  const seconds = (performance.now() - started) / 1000;
  for (const r of reports) if (r.error) throw new Error(`shard ${r.shard} rebuild failed: ${r.error}`);
  const kinds = new Set(reports.map((r) => r.outcome?.kind));
  if (kinds.size !== 1 || !kinds.has(tier)) throw new Error(`expected ${tier} main tiers, got ${[...kinds]}`);
  const stats = await router.stats();
  const factory = JSON.stringify(stats).match(/"factory":"([^"]+)"/)?.[1] ?? tier;
  const rescore =
    tier !== 'ivfpq'
      ? ''
      : rescoreFactor !== undefined
        ? `, rescoreFactor=${rescoreFactor}`
        : kind === 'auto'
          ? `, rescoreFactor=${shardRescoreFactor(DEFAULT_TIER_OPTIONS.rescoreFactor, shards)}`
          : '';
  const build: BuildRow = {
    tier,
    shards,
    router: kind,
    factory: `${factory}${rescore}`,
    seconds: round(seconds, 1),
    vectorsPerShard: reports.map((r) => r.outcome?.vectors ?? 0),
    ...(mapSeconds === undefined ? {} : { mapSeconds: round(mapSeconds, 1) }),
  };
  log(
    `built ${shards} x ${tier} (${factory}${rescore}, ${kind}) in ${seconds.toFixed(1)} s` +
      (mapSeconds === undefined ? '' : ` (partition map ${mapSeconds.toFixed(1)} s)`),
  );
  return { built, build };
}
