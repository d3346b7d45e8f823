import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterError } from '../../../search-cluster/src/errors.ts';
import { MemoryVectorSource } from '../../../search-cluster/src/rebuild/vector-source.ts';
import { createRouter } from '../../../search-cluster/src/router/config.ts';
import type { ShardReplica } from '../../../search-cluster/src/router/replica.ts';
import { ClusterRouter } from '../../../search-cluster/src/router/router.ts';
import type { ShardServer } from '../../../search-cluster/src/server/server.ts';
import { startReplicaServers } from '../../../search-cluster/src/server/test-servers.ts';
import type { RebuildOutcome } from '../../../search-cluster/src/shard/model-index.ts';
import type { Shard, ShardHealth, ShardStats } from '../../../search-cluster/src/shard/shard.ts';
import { idRange, unitVectors } from '../../../search-cluster/src/shard/test-vectors.ts';
import { type Backend, createEmbeddedBackend } from '../../../test/support/backends.ts';
import { clusterClientOver } from '../cluster/cluster.client.ts';
import { jobsOf } from './jobs.test-support.ts';
import { createRebuildService, REBUILD_LEASE } from './rebuild.service.ts';

const MV = 'm1';
const D = 16;

/** A replica that logs when its rebuild starts and ends, and can be down or over a threshold. */
class RecordingReplica implements ShardReplica {
  down = false;
  hotVectors = 0;
  constructor(
    readonly name: string,
    private readonly index: number,
    private readonly count: number,
    private readonly events: string[],
  ) {}
  async rebuild(modelVersion: string): Promise<RebuildOutcome> {
    this.events.push(`start ${this.name}`);
    await sleep(5);
    this.events.push(`end ${this.name}`);
    return {
      outcome: 'rebuilt',
      modelVersion,
      watermark: '1',
      kind: 'flat',
      vectors: 1,
      skipped: 0,
      movedFromHot: 0,
      snapshot: null,
      durationMs: 5,
    };
  }
  async health(): Promise<ShardHealth> {
    if (this.down) throw new ClusterError('SHARD_UNAVAILABLE', 'down');
    return { status: 'ok', partition: { index: this.index, count: this.count }, modelVersions: [] };
  }
  async stats(): Promise<ShardStats> {
    return {
      partition: { index: this.index, count: this.count },
      uptimeSeconds: 1,
      modelVersions: [
        {
          modelVersion: MV,
          dimension: D,
          state: 'ready',
          hot: { vectors: this.hotVectors, memoryBytes: 0 },
          main: null,
          rebuilding: false,
          pendingWrites: 0,
          lastRebuild: null,
          lastError: null,
        },
      ],
    };
  }
  search = async () => [];
  upsert = async () => ({ upserted: 0, unchanged: 0 });
  delete = async () => ({ deleted: 0 });
  dropModelVersion = async () => undefined;
  addModelVersion = async () => {};
  async close() {}
}

let backend: Backend;
beforeAll(async () => {
  backend = await createEmbeddedBackend();
});
afterAll(async () => {
  await backend.dispose();
});

function serviceOver(router: ClusterRouter | Awaited<ReturnType<typeof createRouter>>, owner = 'api-a:1') {
  const p = jobsOf(backend.db, owner);
  const service = createRebuildService({
    cluster: clusterClientOver(router),
    jobs: p.jobs,
    reporter: p.reporter,
    log: p.log,
    thresholds: { hotVectors: 100, tombstoneRatio: 0.1 },
  });
  return { ...p, service };
}

describe('maintenance rebuilds', () => {
  it('rebuilds one replica at a time, shard by shard, and never the last serving replica of a shard', async () => {
    const events: string[] = [];
    const replicas = [
      [new RecordingReplica('0a', 0, 2, events), new RecordingReplica('0b', 0, 2, events)],
      [new RecordingReplica('1a', 1, 2, events), new RecordingReplica('1b', 1, 2, events)],
    ];
    const { service, jobs } = serviceOver(new ClusterRouter(replicas));
    const started = await service.start();
    expect(started.started).toBe(true);
    if (!started.started) return;
    expect(started.targets.map((t) => `${t.shard}/${t.replica}`)).toEqual(['0/0a', '0/0b', '1/1a', '1/1b']);
    const summary = await started.done;
    expect(events).toEqual([
      'start 0a',
      'end 0a',
      'start 0b',
      'end 0b',
      'start 1a',
      'end 1a',
      'start 1b',
      'end 1b',
    ]);
    expect(summary).toMatchObject({ rebuilt: 4, failed: 0, skipped: 0 });
    await service.settled();
    const [run] = await jobs.lastRuns({ job: 'rebuild', limit: 1 });
    expect(run).toMatchObject({ outcome: 'ok', trigger: 'demand' });

    // 1b is down: rebuilding 1a would leave shard 1 on one busy replica, so it waits
    events.length = 0;
    replicas[1]![1]!.down = true;
    const second = await service.start({ shards: [1] });
    if (!second.started) throw new Error('expected a start');
    const after = await second.done;
    expect(events).toEqual(['start 1b', 'end 1b']);
    expect(after.replicas.map((r) => [r.replica, r.skipped ? 'skipped' : 'rebuilt'])).toEqual([
      ['1a', 'skipped'],
      ['1b', 'rebuilt'],
    ]);
  });

  it('starts one rebuild at a time across processes: the second is told where the first runs', async () => {
    const events: string[] = [];
    const router = new ClusterRouter([[new RecordingReplica('0a', 0, 1, events)]]);
    const a = serviceOver(router, 'api-a:1');
    const b = serviceOver(router, 'api-b:2');
    // another process holds the rebuild lease
    expect(await a.jobs.acquireLease(REBUILD_LEASE, 'api-a:1', 60)).toBe(true);
    const refused = await b.service.start();
    expect(refused).toMatchObject({ started: false, holder: 'api-a:1' });
    await a.jobs.releaseLease(REBUILD_LEASE, 'api-a:1');
    const ok = await b.service.start();
    expect(ok.started).toBe(true);
    if (ok.started) await ok.done;
    expect(events).toEqual(['start 0a', 'end 0a']);
  });

  it('rebuilds the replicas past a threshold and leaves the others', async () => {
    const events: string[] = [];
    const replicas = [[new RecordingReplica('0a', 0, 2, events)], [new RecordingReplica('1a', 1, 2, events)]];
    replicas[1]![0]!.hotVectors = 150;
    const { service, jobs } = serviceOver(new ClusterRouter(replicas));
    const result = await service.runThresholdCheck();
    expect(result.details).toMatchObject({ due: 1 });
    expect(events).toEqual(['start 1a', 'end 1a']);
    const [run] = await jobs.lastRuns({ job: 'rebuild', limit: 1 });
    expect(run).toMatchObject({ trigger: 'threshold', outcome: 'ok' });
    replicas[1]![0]!.hotVectors = 0;
    expect((await service.runThresholdCheck()).outcome).toBe('skipped');
  });

  describe('on real shards', () => {
    const source = new MemoryVectorSource();
    const vectors = unitVectors(300, D, 7);
    const ids = idRange(1, 300);
    let dataDir: string;
    const shards: Shard[] = [];
    const servers: ShardServer[] = [];
    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-rebuild-'));
      source.putMany(MV, ids, vectors);
    });
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(shards.map((s) => s.close()));
      await rm(dataDir, { recursive: true, force: true });
    });

    it('rebuilds in-process shards on demand', async () => {
      const router = await createRouter({
        mode: 'in-process',
        shards: 2,
        modelVersions: [{ name: MV, dimension: D }],
        source,
        dataDir: join(dataDir, 'in-process'),
      });
      try {
        const { service } = serviceOver(router);
        const started = await service.start();
        if (!started.started) throw new Error('expected a start');
        const summary = await started.done;
        expect(summary.replicas.map((r) => [r.shard, r.outcome?.outcome])).toEqual([
          [0, 'rebuilt'],
          [1, 'rebuilt'],
        ]);
        expect(summary.replicas.reduce((n, r) => n + (r.outcome?.vectors ?? 0), 0)).toBe(300);
      } finally {
        await router.close();
      }
    });

    it('rebuilds remote shard servers on demand, each replica once', async () => {
      await startReplicaServers({
        modelVersion: MV,
        dimension: D,
        source,
        dataDir,
        into: { shards, servers },
      });
      const router = await createRouter({
        mode: 'remote',
        replicas: [[servers[0]!.url, servers[1]!.url], [servers[2]!.url]],
        deadlineMs: 2_000,
      });
      try {
        const before = shards.map((s) => s.stats().modelVersions[0]!.lastRebuild);
        const { service } = serviceOver(router);
        const started = await service.start();
        if (!started.started) throw new Error('expected a start');
        const summary = await started.done;
        expect(summary.replicas.map((r) => [r.shard, r.replica, r.outcome?.outcome])).toEqual([
          [0, servers[0]!.url, 'rebuilt'],
          [0, servers[1]!.url, 'rebuilt'],
          [1, servers[2]!.url, 'rebuilt'],
        ]);
        // each shard server rebuilt (a new lastRebuild), not only answered
        for (const [i, s] of shards.entries()) {
          expect(s.stats().modelVersions[0]!.lastRebuild).not.toEqual(before[i]);
        }
      } finally {
        await router.close();
      }
    });
  });
});
