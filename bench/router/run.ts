import { faissBuild, setFaissThreads } from '../../search-cluster/src/faiss/faiss-index.ts';
import { ivfpqFactory } from '../../search-cluster/src/rebuild/build-main.ts';
import type { RouterSearchOptions, ShardRouter } from '../../search-cluster/src/router/router.ts';
import { DEFAULT_TIER_OPTIONS } from '../../search-cluster/src/shard/options.ts';
import { log, machineFacts, sampleLoad } from '../support/machine.ts';
import { buildRouter } from './build.ts';
import { benchData } from './data.ts';
import { measure, type PassContext, type Variant } from './passes.ts';
import type { BuildRow, RouterRun, Row } from './rows.ts';
import type { RouterFlags } from './settings.ts';

/**
 * Builds every tier's routers (one shard, unscaled, auto with its failover, clustered with its
 * whole-parameter and failover twins), runs every variant at every in-flight count, and closes
 * them again.
 */
export async function measureRun(
  { settings, hnswEf, clustered: partitioning }: RouterFlags,
  command: string,
): Promise<RouterRun> {
  const { n: N, dim: DIM, shards: SHARDS } = settings;
  const rows: Row[] = [];
  const builds: BuildRow[] = [];
  const date = new Date().toISOString();
  const machine = machineFacts();
  const load = sampleLoad();
  log(`${command}`);
  const data = await benchData(settings);
  const context: PassContext = { data, queries: settings.queries, k: settings.k, repeats: settings.repeats };
  const build = async (...args: Parameters<typeof buildRouter>) => {
    const { built, build: row } = await buildRouter(...args);
    builds.push(row);
    return built;
  };
  const avx2 = faissBuild().simd === 'avx2';
  const on = { dim: DIM, data, clustered: partitioning };
  for (const tier of settings.tiers) {
    const one = (await build(tier, 1, 'one', on)).router;
    const many = (await build(tier, SHARDS, 'unscaled', on)).router;
    const auto = await build(tier, SHARDS, 'auto', on);
    const clustered = await build(tier, SHARDS, 'clustered', on);
    const variants: Variant[] = [
      { router: one, kind: 'one', shards: 1, params: 'default', options: {} },
      { router: many, kind: 'unscaled', shards: SHARDS, params: 'default', options: {} },
      { router: auto.router, kind: 'auto', shards: SHARDS, params: 'default', options: {} },
      { router: auto.failover!, kind: 'failover', shards: SHARDS, params: 'default', options: {} },
      { router: clustered.router, kind: 'clustered', shards: SHARDS, params: 'default', options: {} },
      { router: clustered.whole!, kind: 'clustered-whole', shards: SHARDS, params: 'default', options: {} },
      {
        router: clustered.failover!,
        kind: 'clustered-failover',
        shards: SHARDS,
        params: 'default',
        options: {},
      },
    ];
    // the automatic rule at other whole-collection settings, each against one shard at that setting
    const wholes: RouterSearchOptions[] =
      tier === 'hnsw'
        ? settings.autoEf.map((efSearch) => ({ efSearch }))
        : tier === 'ivfpq'
          ? settings.autoNprobe.map((nprobe) => ({ nprobe }))
          : [];
    for (const options of wholes) {
      const params = Object.entries(options)
        .map(([name, value]) => `${name}=${value}`)
        .join(' ');
      const versus = variants.push({ router: one, kind: 'one', shards: 1, params, options }) - 1;
      variants.push({ router: auto.router, kind: 'auto', shards: SHARDS, params, options, versus });
      variants.push({ router: clustered.router, kind: 'clustered', shards: SHARDS, params, options, versus });
    }
    // one shard alone over more settings (and IVF-PQ rebuilt at larger rescoreFactors): the
    // recall-CPU curve the equal-recall comparison reads
    const named = new Set(variants.map((v) => `${v.shards}:${v.params}`));
    const sweep = (router: ShardRouter, options: RouterSearchOptions, suffix: string) => {
      const params =
        [...Object.entries(options).map(([name, value]) => `${name}=${value}`), suffix]
          .filter(Boolean)
          .join(' ') || 'default';
      if (named.has(`1:${params}`)) return;
      named.add(`1:${params}`);
      variants.push({ router, kind: 'one', shards: 1, params, options });
    };
    const oneSettings: RouterSearchOptions[] =
      tier === 'hnsw'
        ? [...settings.autoEf, ...settings.oneEf].map((efSearch) => ({ efSearch }))
        : tier === 'ivfpq'
          ? [...settings.autoNprobe, ...settings.oneNprobe].map((nprobe) => ({ nprobe }))
          : [];
    for (const options of oneSettings) sweep(one, options, '');
    const rescored: ShardRouter[] = [];
    if (tier === 'ivfpq') {
      for (const rescoreFactor of settings.oneRescore) {
        const router = (await build(tier, 1, 'one', { ...on, rescoreFactor })).router;
        rescored.push(router);
        for (const options of [{}, ...oneSettings]) sweep(router, options, `rescoreFactor=${rescoreFactor}`);
      }
    }
    if (tier === 'hnsw') {
      for (const ef of hnswEf) {
        variants.push({
          router: many,
          kind: 'unscaled',
          shards: SHARDS,
          params: `efSearch=${ef}`,
          options: { efSearch: ef },
        });
      }
    }
    if (tier === 'ivfpq') {
      // the "same share of lists" rule the router does not use: the evidence for keeping nprobe
      const nlistOne = Number(/IVF(\d+)/.exec(ivfpqFactory(N, DIM))?.[1]);
      const nlistShard = Number(/IVF(\d+)/.exec(ivfpqFactory(Math.round(N / SHARDS), DIM))?.[1]);
      const scaled = Math.max(1, Math.round((DEFAULT_TIER_OPTIONS.nprobe * nlistShard) / nlistOne));
      if (scaled !== DEFAULT_TIER_OPTIONS.nprobe) {
        variants.push({
          router: auto.router,
          kind: 'auto',
          shards: SHARDS,
          params: `nprobe=${scaled} (share of lists)`,
          options: { nprobe: scaled },
        });
      }
    }
    setFaissThreads(1);
    for (const inflight of settings.inflight)
      rows.push(...(await measure(tier, variants, inflight, context)));
    await auto.failover!.close();
    await clustered.failover!.close();
    await clustered.whole!.close();
    for (const router of [one, many, auto.router, clustered.router, ...rescored]) await router.close();
  }
  return { command, date, machine, avx2, load: load.stop(), settings, rows, builds };
}
