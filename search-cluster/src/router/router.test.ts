import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError } from '../errors.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import type { RebuildOutcome } from '../shard/model-index.ts';
import { shardOf } from '../shard/partition.ts';
import type { ShardHealth, ShardSearchRequest, ShardStats } from '../shard/shard.ts';
import { idRange, row, unitVectors } from '../shard/test-vectors.ts';
import type { Hit } from '../shard/topk.ts';
import { createRouter, parseShardsSetting } from './config.ts';
import type { ShardReplica } from './replica.ts';
import { ClusterRouter, type ShardRouter } from './router.ts';

/** A scripted replica: answers `hits` after `delayMs`, or fails when `down`. */
class FakeReplica implements ShardReplica {
  delayMs = 0;
  down = false;
  error: ClusterError | null = null;
  searches = 0;
  aborted = 0;
  requests: ShardSearchRequest[] = [];
  writes: { op: string; ids: bigint[] }[] = [];

  constructor(
    readonly name: string,
    private readonly hits: Hit[] = [],
    private readonly partition = { index: 0, count: 1 },
  ) {}

  async search(request: ShardSearchRequest, signal: AbortSignal): Promise<Hit[][]> {
    this.searches++;
    this.requests.push(request);
    if (this.error) throw this.error;
    if (this.down) throw new ClusterError('SHARD_UNAVAILABLE', `${this.name} is down`);
    try {
      await sleep(this.delayMs, undefined, { signal });
    } catch (error) {
      this.aborted++;
      throw error;
    }
    const nq = request.queries.length / (request.dimension ?? request.queries.length);
    return Array.from({ length: nq }, () => this.hits.slice(0, request.k));
  }

  async upsert(_mv: string, ids: BigInt64Array) {
    if (this.down) throw new ClusterError('SHARD_UNAVAILABLE', `${this.name} is down`);
    this.writes.push({ op: 'upsert', ids: [...ids] });
    return { upserted: ids.length, unchanged: 0 };
  }

  async delete(_mv: string, ids: BigInt64Array) {
    if (this.down) throw new ClusterError('SHARD_UNAVAILABLE', `${this.name} is down`);
    this.writes.push({ op: 'delete', ids: [...ids] });
    return { deleted: ids.length };
  }

  async rebuild(): Promise<RebuildOutcome> {
    throw new ClusterError('NO_SOURCE', 'no source');
  }

  async addModelVersion() {}
  async dropModelVersion() {}

  async health(): Promise<ShardHealth> {
    if (this.down) throw new ClusterError('SHARD_UNAVAILABLE', 'down');
    return { status: 'ok', partition: this.partition, modelVersions: [] };
  }

  async stats(): Promise<ShardStats> {
    return { partition: this.partition, modelVersions: [], uptimeSeconds: 1 };
  }

  async close() {}
}

const q = Float32Array.of(1, 0, 0, 0);
const hits = (...pairs: [number, number][]) => pairs.map(([id, score]) => ({ id: BigInt(id), score }));
const routers: ShardRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close()));
});

describe('ClusterRouter search', () => {
  it('merges every shard into one global top k, best first, each id once', async () => {
    const router = new ClusterRouter([
      [new FakeReplica('a', hits([1, 0.9], [2, 0.5], [3, 0.1]))],
      [new FakeReplica('b', hits([4, 0.8], [2, 0.7], [5, 0.5]))],
      [new FakeReplica('c', hits([6, 0.95]))],
    ]);
    const result = await router.search('m', q, 4);
    expect(result).toEqual({
      // id 2 shows up twice (mid re-shard): kept once with its best score; ties go to the smaller id
      hits: hits([6, 0.95], [1, 0.9], [4, 0.8], [2, 0.7]),
      partial: false,
      shardsAnswered: 3,
      shardsTotal: 3,
    });
  });

  it('answers partial when a shard misses its deadline, on time', async () => {
    const slow = new FakeReplica('slow', hits([9, 1]));
    slow.delayMs = 2_000;
    const router = new ClusterRouter([[new FakeReplica('fast', hits([1, 0.5]))], [slow]], { deadlineMs: 80 });
    const started = performance.now();
    const result = await router.search('m', q, 10);
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ hits: hits([1, 0.5]), partial: true, shardsAnswered: 1, shardsTotal: 2 });
    expect(elapsed).toBeLessThan(400);
    await sleep(5);
    expect(slow.aborted).toBe(1);
  });

  it('hedges to a second replica when the first is slow, and cancels the loser', async () => {
    const slow = new FakeReplica('slow', hits([1, 0.5]));
    slow.delayMs = 1_000;
    const fast = new FakeReplica('fast', hits([1, 0.5]));
    fast.delayMs = 5;
    const router = new ClusterRouter([[slow, fast]], { deadlineMs: 500, hedgeAfterMs: 20 });
    // the first query may start on either replica; whichever is slow gets hedged
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const result = await router.search('m', q, 5);
      expect(result.partial).toBe(false);
      expect(performance.now() - started).toBeLessThan(300);
    }
    expect(fast.searches).toBe(2);
    await sleep(5);
    expect(slow.aborted).toBe(slow.searches);
  });

  it('moves to another replica at once when one is down, then avoids it', async () => {
    const down = new FakeReplica('down');
    down.down = true;
    const up = new FakeReplica('up', hits([7, 0.7]));
    const router = new ClusterRouter([[down, up]], {
      deadlineMs: 5_000,
      hedgeAfterMs: 4_000,
      backoffMs: 60_000,
    });
    const started = performance.now();
    for (let i = 0; i < 4; i++) expect((await router.search('m', q, 1)).hits).toEqual(hits([7, 0.7]));
    expect(performance.now() - started).toBeLessThan(500);
    // tried once, then backed off
    expect(down.searches).toBe(1);
    expect(up.searches).toBe(4);
  });

  it('fails with SHARD_UNAVAILABLE when no shard answers', async () => {
    const a = new FakeReplica('a');
    a.down = true;
    const b = new FakeReplica('b');
    b.delayMs = 1_000;
    const router = new ClusterRouter([[a], [b]], { deadlineMs: 50 });
    await expect(router.search('m', q, 1)).rejects.toMatchObject({ code: 'SHARD_UNAVAILABLE' });
  });

  it('passes the caller mistakes through instead of answering partial', async () => {
    const a = new FakeReplica('a', hits([1, 1]));
    const b = new FakeReplica('b');
    b.error = new ClusterError('BAD_REQUEST', 'Expected query vectors of dimension 512');
    const router = new ClusterRouter([[a], [b]]);
    await expect(router.search('m', q, 1)).rejects.toThrow('dimension 512');
    a.error = b.error = new ClusterError('UNKNOWN_MODEL_VERSION', 'Unknown model version "m"');
    await expect(router.search('m', q, 1)).rejects.toMatchObject({ code: 'UNKNOWN_MODEL_VERSION' });
    await expect(router.search('m', q, 0)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(router.searchBatch('m', [q, Float32Array.of(1, 2)], 3)).rejects.toThrow(
      /dimension 4 but query 1 has 2/,
    );
  });

  it('sends each shard only its own allowed ids, and skips shards left with none', async () => {
    const replicas = [new FakeReplica('0'), new FakeReplica('1'), new FakeReplica('2')];
    const router = new ClusterRouter(replicas.map((r) => [r]));
    const onlyShard1 = [...idRange(1, 200)].filter((id) => shardOf(id, 3) === 1).slice(0, 5);
    await router.search('m', q, 3, { allowedIds: onlyShard1, nprobe: 7 });
    expect(replicas.map((r) => r.searches)).toEqual([0, 1, 0]);
    expect([...replicas[1]!.requests[0]!.allowedIds!]).toEqual(onlyShard1);
    expect(replicas[1]!.requests[0]).toMatchObject({ nprobe: 7, k: 3, dimension: 4 });
  });
});

describe('ClusterRouter per-shard search parameters', () => {
  const fourShards = () =>
    Array.from({ length: 4 }, (_, i) => new FakeReplica(`s${i}`, [], { index: i, count: 4 }));

  it('sends every shard its share of the whole efSearch, and nprobe unchanged', async () => {
    const replicas = fourShards();
    const router = new ClusterRouter(replicas.map((r) => [r]));
    await router.search('m', q, 10);
    await router.search('m', q, 10, { efSearch: 200, nprobe: 48 });
    await router.search('m', q, 100, { efSearch: 50 });
    for (const r of replicas) {
      expect(r.requests.map((req) => [req.efSearch, req.nprobe])).toEqual([
        [64, undefined], // the shard default 64 is not cut
        [100, 48], // 200 / sqrt(4)
        [100, undefined], // never below k
      ]);
    }
  });

  it('scales the efSearch a router is told the whole search uses', async () => {
    const replicas = fourShards();
    const router = new ClusterRouter(
      replicas.map((r) => [r]),
      { wholeEfSearch: 256 },
    );
    await router.search('m', q, 10);
    expect(replicas.map((r) => r.requests[0]!.efSearch)).toEqual([128, 128, 128, 128]);
  });

  it('sends the parameters unchanged with one shard, a filter, or scaling turned off', async () => {
    const one = new FakeReplica('one');
    await new ClusterRouter([[one]]).search('m', q, 10, { efSearch: 80 });
    await new ClusterRouter([[one]]).search('m', q, 10);
    expect(one.requests.map((r) => r.efSearch)).toEqual([80, undefined]);

    const off = fourShards();
    await new ClusterRouter(
      off.map((r) => [r]),
      { scaleSearchParams: false },
    ).search('m', q, 10, { efSearch: 80 });
    expect(off.map((r) => r.requests[0]!.efSearch)).toEqual([80, 80, 80, 80]);

    const filtered = fourShards();
    const allowed = Array.from({ length: 64 }, (_, i) => BigInt(i + 1));
    await new ClusterRouter(filtered.map((r) => [r])).search('m', q, 10, { allowedIds: allowed });
    const asked = filtered.filter((r) => r.requests.length > 0);
    expect(asked.length).toBeGreaterThan(0);
    for (const r of asked) expect(r.requests[0]!.efSearch).toBeUndefined();
  });

  it('refuses a bad efSearch or nprobe before scaling it', async () => {
    const replicas = fourShards();
    const router = new ClusterRouter(replicas.map((r) => [r]));
    await expect(router.search('m', q, 10, { efSearch: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(router.search('m', q, 10, { nprobe: 1.5 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(replicas.every((r) => r.requests.length === 0)).toBe(true);
  });
});

describe('ClusterRouter writes', () => {
  it('writes each id to every replica of its shard and nowhere else', async () => {
    const shards = [0, 1].map((s) => [new FakeReplica(`${s}a`), new FakeReplica(`${s}b`)]);
    const router = new ClusterRouter(shards);
    const ids = [...idRange(1, 40)];
    const items = ids.map((id) => ({ id, vector: q }));
    expect(await router.upsert('m', items)).toEqual({ upserted: 40, unchanged: 0 });
    shards.forEach((replicas, s) => {
      const expected = ids.filter((id) => shardOf(id, 2) === s);
      for (const r of replicas) expect(r.writes).toEqual([{ op: 'upsert', ids: expected }]);
    });
    expect(await router.delete('m', [1n, 2n, 3n])).toEqual({ deleted: 3 });
  });

  it('fails a write that did not reach every replica, naming it', async () => {
    const ok = new FakeReplica('ok');
    const down = new FakeReplica('down');
    down.down = true;
    const router = new ClusterRouter([[ok, down]]);
    await expect(router.upsert('m', [{ id: 1n, vector: q }])).rejects.toThrow(
      /reached 1 of 2 replicas of shard 0 \(down: down is down\)/,
    );
  });
});

describe('ClusterRouter write errors', () => {
  it('retries a model version some replicas do not serve yet, and refuses one none serves', async () => {
    const a = new FakeReplica('a');
    const b = new FakeReplica('b');
    const unknown = new ClusterError('UNKNOWN_MODEL_VERSION', 'Unknown model version "m"');
    b.upsert = async () => {
      throw unknown;
    };
    const router = new ClusterRouter([[a, b]]);
    await expect(router.upsert('m', [{ id: 1n, vector: q }])).rejects.toMatchObject({
      code: 'SHARD_UNAVAILABLE',
    });
    a.upsert = b.upsert;
    await expect(router.upsert('m', [{ id: 1n, vector: q }])).rejects.toMatchObject({
      code: 'UNKNOWN_MODEL_VERSION',
    });
  });
});

describe('ClusterRouter health', () => {
  it('reports ok, degraded and down, and catches a replica serving another shard', async () => {
    const a = new FakeReplica('a', [], { index: 0, count: 2 });
    const b = new FakeReplica('b', [], { index: 0, count: 2 });
    const c = new FakeReplica('c', [], { index: 1, count: 2 });
    const router = new ClusterRouter([[a, b], [c]]);
    expect((await router.health()).status).toBe('ok');
    b.down = true;
    expect((await router.health()).status).toBe('degraded');
    c.down = true;
    expect((await router.health()).status).toBe('down');
    const wrong = new ClusterRouter([[new FakeReplica('x', [], { index: 3, count: 4 })]]);
    const health = await wrong.health();
    expect(health.shards[0]!.replicas[0]).toMatchObject({ status: 'mismatch' });
    expect(health.status).toBe('down');
  });
});

describe('router configuration', () => {
  it('parses SHARDS as a count or as URLs with replicas', () => {
    expect(parseShardsSetting(undefined)).toEqual({ mode: 'in-process', shards: 1 });
    expect(parseShardsSetting('4')).toEqual({ mode: 'in-process', shards: 4 });
    expect(parseShardsSetting('http://127.0.0.1:7001,http://127.0.0.1:7002|http://127.0.0.1:7003')).toEqual({
      mode: 'remote',
      replicas: [['http://127.0.0.1:7001'], ['http://127.0.0.1:7002', 'http://127.0.0.1:7003']],
    });
    expect(() => parseShardsSetting('http://a:1,,')).toThrow(/shard 1 lists no replica/);
    expect(() => parseShardsSetting('https://a:1')).toThrow(/http:\/\//);
    expect(() => parseShardsSetting('0')).toThrow(/between 1 and 1024/);
  });

  it('runs in-process FAISS shards behind the same interface', async () => {
    const D = 16;
    const source = new MemoryVectorSource();
    const vectors = unitVectors(600, D, 5);
    const ids = idRange(1, 600);
    source.putMany('m', ids.subarray(0, 300), vectors.subarray(0, 300 * D));
    const router = await createRouter({
      mode: 'in-process',
      shards: 3,
      modelVersions: [{ name: 'm', dimension: D }],
      source,
    });
    routers.push(router);
    await router.upsert('m', { ids: ids.subarray(300), vectors: vectors.subarray(300 * D) });
    const stats = await router.stats();
    const perShard = stats.shards.map((s) => s.replicas[0]!.stats!.modelVersions[0]!);
    // each shard built its main tier from its own third of the source
    expect(perShard.reduce((n, m) => n + m.main!.vectors, 0)).toBe(300);
    expect(perShard.reduce((n, m) => n + m.hot.vectors, 0)).toBe(300);
    for (const m of perShard) expect(m.main!.vectors).toBeGreaterThan(60);
    for (const i of [0, 150, 299, 300, 599]) {
      const result = await router.search('m', row(vectors, i, D), 5);
      expect(result).toMatchObject({ partial: false, shardsAnswered: 3 });
      expect(result.hits[0]!.id).toBe(BigInt(i + 1));
    }
    const batch = await router.searchBatch('m', [row(vectors, 1, D), row(vectors, 2, D)], 2);
    expect(batch.results.map((r) => r[0]!.id)).toEqual([2n, 3n]);
    expect((await router.health()).status).toBe('ok');
    const reports = await router.rebuild('m');
    expect(reports.map((r) => r.outcome?.outcome)).toEqual(['rebuilt', 'rebuilt', 'rebuilt']);
  });
});
