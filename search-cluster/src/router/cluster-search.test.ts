import { describe, expect, it } from 'vitest';
import { ClusterError } from '../errors.ts';
import type { ShardSearchRequest } from '../shard/shard.ts';
import type { Hit } from '../shard/topk.ts';
import { probeSearch } from './cluster-search.ts';
import type { ShardAnswer } from './hedged-search.ts';
import type { PartitionMap } from './partition-map.ts';
import { AUDIT_EVERY, AUDIT_FIRST, auditEvery, ProbeAudit } from './probe-audit.ts';
import { clusterShardParams } from './shard-params.ts';

// Three shards on the axes of a 3-d space, one centroid each; the slack lets a shard through when
// its centroid score is within 0.5 of the k-th score found.
const map: PartitionMap = {
  version: 'test',
  modelVersion: 'm',
  dimension: 3,
  shardCount: 3,
  centroids: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  shardOfCluster: Uint16Array.from([0, 1, 2]),
  slack: 0.5,
  sampleRowsPerShard: [1, 1, 1],
};
const K = 2;
const nearest = { modelVersion: 'm', k: K, nprobe: 16, efSearch: 64 };
const slack = { modelVersion: 'm', k: K, nprobe: 8, efSearch: 16 };
const hits = (shard: number, ...scores: number[]): Hit[] =>
  scores.map((score, i) => ({ id: BigInt(shard * 100 + i), score }));

/** A fan-out over fixed per-shard answers (null: the shard fails) that records every request. */
function shards(answers: (Hit[] | null)[]) {
  const asked: { shard: number; request: ShardSearchRequest }[] = [];
  const fanOut = async (requests: readonly (ShardSearchRequest | null)[]) =>
    requests.map((request, s): ShardAnswer | undefined => {
      if (!request) return undefined;
      asked.push({ shard: s, request });
      const answer = answers[s];
      // every query of a shared request gets the shard's answer
      return answer
        ? { ok: true, results: Array.from({ length: request.queries.length / 3 }, () => answer) }
        : { ok: false, error: new ClusterError('SHARD_UNAVAILABLE', `shard ${s} is down`) };
    });
  return { asked, fanOut };
}

describe('probe rounds of a cluster-partitioned search', () => {
  it('asks the nearest shard with the nearest parameters and a slack shard with the slack ones', async () => {
    // the query sits near shard 0, a little towards shard 1: shard 1's bound (0.6 + 0.5) reaches
    // the k-th score 0.9, shard 2's (0 + 0.5) does not
    const query = Float32Array.from([0.8, 0.6, 0]);
    const { asked, fanOut } = shards([hits(0, 0.95, 0.9), hits(1, 0.93), hits(2, 0.99)]);
    const result = await probeSearch({ map, nearest, slack, queries: [query], k: K, fanOut });
    expect(asked.map((a) => a.shard)).toEqual([0, 1]);
    expect(asked[0]!.request).toMatchObject({ nprobe: 16, efSearch: 64 });
    expect(asked[1]!.request).toMatchObject({ nprobe: 8, efSearch: 16 });
    expect(result.results[0]!.map((h) => h.score)).toEqual([0.95, 0.93]);
    expect([...result.shardsAnswered]).toEqual([0, 1]);
  });

  it('asks no other shard when none can beat what the nearest found', async () => {
    const query = Float32Array.from([1, 0, 0]);
    const { asked, fanOut } = shards([hits(0, 0.99, 0.98), hits(1, 0.97), hits(2, 0.97)]);
    await probeSearch({ map, nearest, slack, queries: [query], k: K, fanOut });
    expect(asked.map((a) => a.shard)).toEqual([0]);
  });

  it('gives the next shards the nearest parameters when the nearest shard failed', async () => {
    // with the nearest shard down the query has no k-th score: every other shard may hold its
    // neighbours, and a slack-sized search of them would lose recall on top of the lost shard
    const query = Float32Array.from([0.8, 0.6, 0]);
    const { asked, fanOut } = shards([null, hits(1, 0.7, 0.6), hits(2, 0.2, 0.1)]);
    const result = await probeSearch({ map, nearest, slack, queries: [query], k: K, fanOut });
    expect(asked.map((a) => a.shard)).toEqual([0, 1, 2]);
    for (const { request } of asked) expect(request).toMatchObject({ nprobe: 16, efSearch: 64 });
    expect(result.results[0]!.map((h) => h.score)).toEqual([0.7, 0.6]);
    expect([...result.shardsFailed]).toEqual([0]);
  });

  it('merges a shard answered by several rounds into one top k, each id once', async () => {
    const query = Float32Array.from([0.8, 0.6, 0]);
    const shared = { id: 7n, score: 0.92 };
    const { fanOut } = shards([[{ id: 1n, score: 0.95 }, shared], [shared, { id: 8n, score: 0.91 }], []]);
    const result = await probeSearch({ map, nearest, slack, queries: [query], k: K, fanOut });
    expect(result.results[0]).toEqual([{ id: 1n, score: 0.95 }, shared]);
  });
});

describe('the probe audit', () => {
  it('asks an audited query of every shard and says what slack its top k needed', async () => {
    // near shard 0; shard 2 (centroid score 0) holds the second-best hit 0.97: its bound 0 + 0.5
    // misses the k-th score 0.97, so the rule would have missed it, and needed a slack of 0.97
    const query = Float32Array.from([1, 0, 0]);
    const { asked, fanOut } = shards([hits(0, 0.99, 0.9), hits(1, 0.2), hits(2, 0.97)]);
    const result = await probeSearch({ map, nearest, slack, queries: [query], k: K, fanOut, audit: [true] });
    expect(asked.map((a) => a.shard)).toEqual([0, 1, 2]);
    expect(asked[0]!.request).toMatchObject({ nprobe: 16, efSearch: 64 });
    for (const { request } of asked.slice(1)) expect(request).toMatchObject({ nprobe: 8, efSearch: 16 });
    expect(result.results[0]!.map((h) => h.score)).toEqual([0.99, 0.97]);
    expect(result.audit.audited).toBe(1);
    expect(result.audit.missed).toBe(1);
    expect(result.audit.slackNeeded).toBeCloseTo(0.97, 6);
  });

  it('needs no slack when the nearest shard held the whole top k, and audits only the picked queries', async () => {
    const query = Float32Array.from([1, 0, 0]);
    const { asked, fanOut } = shards([hits(0, 0.99, 0.98), hits(1, 0.5), hits(2, 0.4)]);
    const result = await probeSearch({
      map,
      nearest,
      slack,
      queries: [query, query],
      k: K,
      fanOut,
      audit: [false, true],
    });
    // one shared request per shard: shard 0 for both, 1 and 2 for the audited one
    expect(asked.map((a) => a.shard)).toEqual([0, 1, 2]);
    expect(result.audit).toEqual({ audited: 1, missed: 0, slackNeeded: 0 });
  });

  it('raises the map slack to what audited queries needed, auditing the first searches and then one in many', () => {
    const own = { ...map, slack: 0.1 };
    const audit = new ProbeAudit(own);
    // 3 shards: one in 500 after the first
    const picks = audit.pick(AUDIT_FIRST + AUDIT_EVERY + 1);
    expect(picks.slice(0, AUDIT_FIRST).every(Boolean)).toBe(true);
    expect(picks.filter(Boolean).length).toBe(AUDIT_FIRST + 1);
    audit.record({ audited: 3, missed: 1, slackNeeded: 0.3 });
    audit.record({ audited: 2, missed: 0, slackNeeded: 0.2 });
    expect(own.slack).toBe(0.3);
    expect(audit.stats()).toEqual({ audited: 5, missed: 1, slack: 0.3, builtSlack: 0.1 });
    // 64 shards: an audit asks all 64, so one in 128 x 64
    expect(auditEvery(64)).toBe(8192);
    expect(auditEvery(2)).toBe(AUDIT_EVERY);
  });
});

describe('per-shard parameters under cluster partitioning', () => {
  it('keeps nprobe on every probed shard and the whole efSearch on the nearest; a slack shard gets efSearch / S', () => {
    expect(clusterShardParams({ nprobe: 32, efSearch: 64 }, 4, 10)).toEqual({
      nearest: { nprobe: 32, efSearch: 64 },
      slack: { nprobe: 32, efSearch: 16 },
    });
    expect(clusterShardParams({ nprobe: 32, efSearch: 64 }, 16, 10)).toEqual({
      nearest: { nprobe: 32, efSearch: 64 },
      slack: { nprobe: 32, efSearch: 10 }, // efSearch never below k
    });
    // a query that names no nprobe: none is sent, each shard probes its own calibrated default
    expect(clusterShardParams({ efSearch: 64 }, 4, 10)).toEqual({
      nearest: { efSearch: 64 },
      slack: { efSearch: 16 },
    });
    expect(clusterShardParams({ nprobe: 1, efSearch: 8 }, 4, 10)).toEqual({
      nearest: { nprobe: 1, efSearch: 10 },
      slack: { nprobe: 1, efSearch: 10 },
    });
  });
});
