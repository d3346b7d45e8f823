import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sample } from '../../../test/support/prometheus-text.ts';
import { ShardClient } from '../protocol/client.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import { type Partition, shardOf } from '../shard/partition.ts';
import { Shard } from '../shard/shard.ts';
import { idRange, row, unitVectors } from '../shard/test-vectors.ts';
import { type ShardServer, startShardServer } from './server.ts';
import { createShardServerMetrics } from './shard-server-metrics.ts';

const D = 8;
const MV = 'clip-test@1';

/** A source of record whose next snapshot waits for `release()`, and can be made to fail. */
class GatedSource extends MemoryVectorSource {
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;
  failNext = false;
  hold() {
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }
  release() {
    this.open?.();
    this.gate = null;
  }
  override async snapshot(modelVersion: string, partition?: Partition) {
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('source of record unreachable');
    }
    return super.snapshot(modelVersion, partition);
  }
}

describe('shard server: liveness, readiness and metrics', () => {
  let dataDir: string;
  const source = new GatedSource();
  let shard: Shard;
  let server: ShardServer;
  let started: Promise<void>;
  const vectors = unitVectors(60, D, 5);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-health-'));
    source.putMany(MV, idRange(1, 40), vectors.subarray(0, 40 * D));
    const metrics = createShardServerMetrics();
    shard = new Shard({
      partition: { index: 1, count: 2 },
      modelVersions: [{ name: MV, dimension: D }],
      factory: faissFactory,
      source,
      dataDir,
      observer: metrics.shards.observerFor(1),
    });
    metrics.shards.track(shard);
    // the first load (a rebuild from the source) hangs until released: the shard is loading
    source.hold();
    server = await startShardServer({ shard, metrics });
    started = shard.start();
  });

  afterAll(async () => {
    source.release();
    await server?.close();
    await shard?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const scrape = async () => (await fetch(`${server.url}/metrics`)).text();

  it('answers /healthz 200 while loading (a liveness probe must not restart it) and /readyz 503', async () => {
    const live = await fetch(`${server.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'loading' });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'loading' });
    expect(sample(await scrape(), 'pixelfind_shard_ready', { shard: '1', model_version: MV })).toBe(0);
    // the router still reads a loading replica as loading, not as down
    const client = new ShardClient(server.url);
    expect((await client.health()).status).toBe('loading');
    client.close();

    source.release();
    await started;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect(sample(await scrape(), 'pixelfind_shard_ready', { shard: '1', model_version: MV })).toBe(1);
  });

  it('exports vectors per tier, search latency per tier, rebuilds by outcome and the snapshot age', async () => {
    const client = new ShardClient(server.url);
    try {
      const main = sample(await scrape(), 'pixelfind_shard_vectors', { tier: 'main' });
      expect(main).toBe(shard.stats().modelVersions[0]!.main!.live);
      expect(main).toBeGreaterThan(0);
      // three ids this shard owns, written live into the hot tier
      const owned = [...idRange(41, 20)].filter((id) => shardOf(id, 2) === 1).slice(0, 3);
      const hotIds = BigInt64Array.from(owned);
      const hotVectors = new Float32Array(owned.length * D);
      for (const [i, id] of owned.entries()) hotVectors.set(row(vectors, Number(id) - 1, D), i * D);
      await client.upsert(MV, hotIds, hotVectors);
      await client.search({ modelVersion: MV, queries: row(vectors, 0, D), k: 3 });
      await client.search({
        modelVersion: MV,
        queries: row(vectors, 0, D),
        k: 3,
        allowedIds: BigInt64Array.from([1n, 3n]),
      });

      let text = await scrape();
      expect(sample(text, 'pixelfind_shard_vectors', { tier: 'hot', model_version: MV })).toBe(3);
      for (const tier of ['hot', 'main', 'exact'])
        expect(sample(text, 'pixelfind_shard_search_seconds_count', { tier })).toBeGreaterThanOrEqual(1);
      // the load rebuilt from the source and wrote a snapshot: its age is a few seconds at most
      const age = sample(text, 'pixelfind_shard_snapshot_age_seconds', { shard: '1', model_version: MV });
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(600);
      expect(sample(text, 'pixelfind_shard_rebuild_duration_seconds_count', { outcome: 'rebuilt' })).toBe(1);
      expect(sample(text, 'pixelfind_shard_native_calls_in_flight', { op: 'search' })).toBe(0);
      expect(text).toContain('process_resident_memory_bytes');

      source.failNext = true;
      await expect(client.rebuild(MV)).rejects.toThrow(/unreachable/);
      text = await scrape();
      expect(sample(text, 'pixelfind_shard_rebuild_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    } finally {
      client.close();
    }
  });

  it('names HTTP routes from a fixed set: random paths add no series', async () => {
    for (const path of ['/a1', '/b2/c3', '/v1/search?x=1', '/%2e%2e/etc'])
      await fetch(`${server.url}${path}`);
    const text = await scrape();
    const routes = new Set(
      [...text.matchAll(/pixelfind_http_request_duration_seconds_count\{route="([^"]*)"/g)].map((m) => m[1]),
    );
    expect(routes.has('other')).toBe(true);
    for (const route of routes)
      expect(['/healthz', '/readyz', '/v1/search', '/v1/upsert', '/v1/rebuild', 'other']).toContain(route);
    expect(
      sample(text, 'pixelfind_http_request_duration_seconds_count', { route: '/readyz', status: '5xx' }),
    ).toBe(1);
  });
});
