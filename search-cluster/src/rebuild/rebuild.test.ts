import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { faissFactory } from '../shard/faiss-factory.ts';
import type { TierOptions } from '../shard/options.ts';
import type { Partition } from '../shard/partition.ts';
import { Shard } from '../shard/shard.ts';
import { idRange, row, unitVectors } from '../shard/test-vectors.ts';
import { modelDir } from './snapshot.ts';
import {
  MemoryVectorSource,
  type VectorChange,
  type VectorSource,
  type VectorSourceSnapshot,
} from './vector-source.ts';

const D = 24;
const MV = 'clip-test@1';

/** The in-memory source, but a snapshot's records stop after `pauseAfter` until `release()`. */
class GatedSource implements VectorSource {
  pauseAfter = Number.POSITIVE_INFINITY;
  failAfter = Number.POSITIVE_INFINITY;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => {};
  /** Resolves when a snapshot reader reached the pause point. */
  paused: Promise<void> = Promise.resolve();
  private onPaused: () => void = () => {};

  constructor(readonly inner: MemoryVectorSource) {}

  hold(pauseAfter: number): void {
    this.pauseAfter = pauseAfter;
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
    this.paused = new Promise((resolve) => {
      this.onPaused = resolve;
    });
  }

  release(): void {
    this.open();
  }

  async snapshot(modelVersion: string, partition: Partition): Promise<VectorSourceSnapshot> {
    const inner = await this.inner.snapshot(modelVersion);
    void partition;
    const self = this;
    return {
      watermark: inner.watermark,
      records: (async function* () {
        let n = 0;
        for await (const record of inner.records) {
          if (n === self.failAfter) throw new Error('source connection lost');
          if (n === self.pauseAfter) {
            self.onPaused();
            await self.gate;
          }
          n++;
          yield record;
        }
      })(),
    };
  }

  since(modelVersion: string, watermark: bigint): AsyncIterable<VectorChange> {
    return this.inner.since(modelVersion, watermark);
  }
}

let dataDir: string;
const open: Shard[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-rebuild-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await rm(dataDir, { recursive: true, force: true });
});

function newShard(
  source: VectorSource | undefined,
  tiers: Partial<TierOptions> = {},
  withDataDir = true,
): Shard {
  const shard = new Shard({
    factory: faissFactory,
    modelVersions: [{ name: MV, dimension: D }],
    tiers,
    ...(source ? { source } : {}),
    ...(withDataDir ? { dataDir } : {}),
  });
  open.push(shard);
  return shard;
}

/** Writes to the source of record first, then to the shard, as the indexing worker does. */
function writer(source: MemoryVectorSource, shard: () => Shard) {
  return {
    async put(ids: BigInt64Array, vectors: Float32Array) {
      source.putMany(MV, ids, vectors);
      await shard().upsert(MV, ids, vectors);
    },
    async remove(ids: bigint[]) {
      for (const id of ids) source.delete(MV, id);
      await shard().delete(MV, BigInt64Array.from(ids));
    },
  };
}

const stats = (shard: Shard) => shard.stats().modelVersions[0]!;

/** Every live id of the source is found (exactly and by ANN), and no other id comes back. */
async function expectMatchesSource(shard: Shard, source: MemoryVectorSource, sample = 1) {
  const live = new Set(source.ids(MV));
  let checked = 0;
  for (const id of live) {
    if (checked++ % sample !== 0) continue;
    const vector = source.get(MV, id)!;
    const [exact] = await shard.search({
      modelVersion: MV,
      queries: vector,
      k: 1,
      allowedIds: BigInt64Array.of(id),
    });
    expect(exact![0]?.id, `id ${id} exact`).toBe(id);
    const [ann] = await shard.search({ modelVersion: MV, queries: vector, k: 10 });
    expect(
      ann!.map((h) => h.id),
      `id ${id} ann`,
    ).toContain(id);
    for (const h of ann!) expect(live.has(h.id), `returned ${h.id}`).toBe(true);
  }
}

describe('rebuild', () => {
  it('swaps a new main tier in under concurrent queries and keeps what arrived after it started', async () => {
    const inner = new MemoryVectorSource();
    const source = new GatedSource(inner);
    const shard = newShard(source);
    const w = writer(inner, () => shard);
    const base = unitVectors(1200, D, 11, 20);
    inner.putMany(MV, idRange(1, 1000), base.subarray(0, 1000 * D));
    await shard.start();
    await w.put(idRange(1001, 100), base.subarray(1000 * D, 1100 * D));
    expect(stats(shard)).toMatchObject({ hot: { vectors: 100 }, main: { vectors: 1000 } });

    // queries run the whole time; every answer must hold the queried id and no deleted one
    const deleted = new Set<bigint>();
    let stop = false;
    let queries = 0;
    const reader = (async () => {
      for (let i = 0; !stop; i = (i + 37) % 1100) {
        const id = BigInt(i + 1);
        if (deleted.has(id) || id === 20n) continue;
        const query = row(base, i, D);
        const [hits] = await shard.search({ modelVersion: MV, queries: query, k: 5 });
        expect(hits![0]!.id, `query ${id}`).toBe(id);
        for (const h of hits!) expect(deleted.has(h.id)).toBe(false);
        queries++;
      }
    })();

    source.hold(500);
    const rebuilding = shard.rebuild(MV);
    await source.paused;
    // while the rebuild reads the source: new ids, deletes of main and hot ids, a replaced vector
    const late = unitVectors(50, D, 12, 20);
    await w.put(idRange(2001, 50), late);
    for (const id of [10n, 1050n]) deleted.add(id);
    await w.remove([10n, 1050n]);
    const replaced = unitVectors(1, D, 13);
    await w.put(BigInt64Array.of(20n), replaced);
    source.release();
    const outcome = await rebuilding;
    await new Promise((resolve) => setTimeout(resolve, 20));
    stop = true;
    await reader;

    expect(queries).toBeGreaterThan(20);
    expect(outcome).toMatchObject({ outcome: 'rebuilt', kind: 'flat', vectors: 1100, movedFromHot: 99 });
    // hot keeps the 50 late ids and the replaced vector; the new main tier tombstones 10, 1050, 20
    expect(stats(shard)).toMatchObject({ hot: { vectors: 51 }, main: { vectors: 1100, live: 1097 } });
    await expectMatchesSource(shard, inner, 3);
    const twenty = await shard.search({ modelVersion: MV, queries: replaced, k: 3 });
    expect(twenty[0]![0]).toMatchObject({ id: 20n });
    expect(twenty[0]![0]!.score).toBeCloseTo(1, 5);
  });

  it('leaves the serving tiers untouched when the source fails mid-read', async () => {
    const inner = new MemoryVectorSource();
    const source = new GatedSource(inner);
    const shard = newShard(source);
    inner.putMany(MV, idRange(1, 300), unitVectors(300, D, 2));
    await shard.start();
    source.failAfter = 100;
    await expect(shard.rebuild(MV)).rejects.toThrow(/source connection lost/);
    expect(stats(shard)).toMatchObject({ state: 'ready', main: { vectors: 300 }, rebuilding: false });
    await expectMatchesSource(shard, inner, 10);
  });

  it('starts a rebuild by itself once the hot tier is full', async () => {
    const source = new MemoryVectorSource();
    const shard = newShard(source, { autoRebuildHotVectors: 50 });
    const w = writer(source, () => shard);
    source.putMany(MV, idRange(1, 100), unitVectors(100, D, 2));
    await shard.start();
    await w.put(idRange(101, 60), unitVectors(60, D, 3));
    for (let i = 0; i < 100 && stats(shard).main!.vectors !== 160; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(stats(shard)).toMatchObject({ main: { vectors: 160 }, hot: { vectors: 0 } });
  });

  it('remembers model versions added at run time across restarts', async () => {
    const source = new MemoryVectorSource();
    let shard = newShard(source);
    await shard.start();
    source.putMany('green@2', idRange(1, 30), unitVectors(30, 8, 4));
    await shard.addModelVersion('green@2', 8);
    expect(shard.modelVersions).toEqual([
      { name: MV, dimension: D },
      { name: 'green@2', dimension: 8 },
    ]);
    await shard.close();
    shard = new Shard({ factory: faissFactory, source, dataDir });
    open.push(shard);
    await shard.start();
    expect(shard.modelVersions.map((m) => m.name).sort()).toEqual([MV, 'green@2']);
    const [hits] = await shard.search({
      modelVersion: 'green@2',
      queries: unitVectors(30, 8, 4).subarray(8, 16),
      k: 1,
    });
    expect(hits![0]!.id).toBe(2n);
  });

  it('shares one run between concurrent rebuild calls', async () => {
    const inner = new MemoryVectorSource();
    const shard = newShard(inner);
    inner.putMany(MV, idRange(1, 100), unitVectors(100, D, 2));
    await shard.start();
    const before = inner.reads.snapshots;
    const [a, b] = await Promise.all([shard.rebuild(MV), shard.rebuild(MV)]);
    expect(a).toBe(b);
    expect(inner.reads.snapshots).toBe(before + 1);
  });
});

describe('restart', () => {
  it('reloads the last snapshot and refills the hot tier from changes after it', async () => {
    const source = new MemoryVectorSource();
    let shard = newShard(source);
    const w = writer(source, () => shard);
    source.putMany(MV, idRange(1, 800), unitVectors(800, D, 21, 20));
    await shard.start();
    const built = stats(shard).lastRebuild!;
    expect(built.snapshot).toContain(modelDir(dataDir, MV));

    await w.put(idRange(1001, 40), unitVectors(40, D, 22, 20));
    await w.remove([5n, 1003n]);
    await w.put(BigInt64Array.of(6n), unitVectors(1, D, 23));
    await shard.close();

    const snapshotsRead = source.reads.snapshots;
    shard = newShard(source);
    await shard.start();
    // no full read of the source: snapshot from disk, changes since its watermark into the hot tier
    expect(source.reads.snapshots).toBe(snapshotsRead);
    expect(stats(shard)).toMatchObject({
      state: 'ready',
      main: { vectors: 800, live: 798, watermark: built.watermark },
      hot: { vectors: 40 },
    });
    await expectMatchesSource(shard, source, 4);
  });

  it('replays changes from before the snapshot without moving them to the hot tier', async () => {
    // a Postgres source re-reads some changes below the watermark (commit-order slack)
    const source = new MemoryVectorSource();
    let shard = newShard(source, { mainTier: 'hnsw' });
    const w = writer(source, () => shard);
    source.putMany(MV, idRange(1, 300), unitVectors(300, D, 26));
    await shard.start();
    await w.put(idRange(401, 5), unitVectors(5, D, 27));
    await shard.close();
    const replayAll: VectorSource = {
      snapshot: (mv, p) => source.snapshot(mv, p),
      since: (mv) => source.since(mv, 0n),
    };
    shard = newShard(replayAll, { mainTier: 'hnsw' });
    await shard.start();
    expect(stats(shard)).toMatchObject({
      hot: { vectors: 5 },
      main: { vectors: 300, live: 300, tombstones: 0 },
    });
    await expectMatchesSource(shard, source, 10);
  });

  it('retries a refill that failed half-way and serves only once it is complete', async () => {
    const source = new MemoryVectorSource();
    let shard = newShard(source);
    const w = writer(source, () => shard);
    source.putMany(MV, idRange(1, 200), unitVectors(200, D, 24));
    await shard.start();
    await w.put(idRange(301, 30), unitVectors(30, D, 25));
    await w.remove([7n]);
    await shard.close();

    // the first replay breaks after 10 changes
    let calls = 0;
    const flaky: VectorSource = {
      snapshot: (mv, p) => source.snapshot(mv, p),
      async *since(mv, watermark) {
        calls++;
        let n = 0;
        for await (const change of source.since(mv, watermark)) {
          if (calls === 1 && n++ === 10) throw new Error('connection reset');
          yield change;
        }
      },
    };
    shard = newShard(flaky, { loadRetryMs: 10 });
    await shard.start();
    expect(stats(shard)).toMatchObject({ state: 'loading', lastError: { message: 'connection reset' } });
    await expect(shard.search({ modelVersion: MV, queries: unitVectors(1, D), k: 1 })).rejects.toMatchObject({
      code: 'SHARD_NOT_READY',
    });
    for (let i = 0; i < 100 && stats(shard).state !== 'ready'; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(2);
    expect(stats(shard)).toMatchObject({ state: 'ready', hot: { vectors: 30 }, main: { live: 199 } });
    await expectMatchesSource(shard, source, 5);
  });

  it('keeps serving with an IVF-PQ tier memory-mapped from its snapshot', async () => {
    const source = new MemoryVectorSource();
    const tiers = { mainTier: 'ivfpq' as const };
    let shard = newShard(source, tiers);
    source.putMany(MV, idRange(1, 3000), unitVectors(3000, D, 31, 40));
    await shard.start();
    expect(stats(shard).main).toMatchObject({ kind: 'ivfpq', vectors: 3000 });
    // the build's nprobe calibration is in the snapshot, and the restarted shard serves it
    const meta = JSON.parse(await readFile(join(stats(shard).lastRebuild!.snapshot!, 'meta.json'), 'utf8'));
    const { nprobe } = stats(shard).main!;
    expect(meta.calibration).toMatchObject({ nprobe, queries: 200, target: 0.97 });
    await shard.close();
    shard = newShard(source, tiers);
    await shard.start();
    expect(stats(shard).main).toMatchObject({ kind: 'ivfpq', vectors: 3000, nprobe });
    await expectMatchesSource(shard, source, 25);
  });

  const corruptions: [string, (snapshotDir: string, root: string) => Promise<void>][] = [
    [
      'a flipped byte in the index file',
      async (dir) => {
        const path = join(dir, 'index.faiss');
        const bytes = await readFile(path);
        bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
        await writeFile(path, bytes);
      },
    ],
    ['a truncated vector file', async (dir) => truncate(join(dir, 'vectors.pxvec'), 1000)],
    ['unparseable meta.json', async (dir) => writeFile(join(dir, 'meta.json'), '{"format": 1, "count": ')],
    [
      'a CURRENT naming a missing snapshot',
      async (_dir, root) => writeFile(join(root, 'CURRENT'), 'snap-1-1\n'),
    ],
  ];

  /** A shard that built `n` vectors from `source`, took its snapshot and closed: the snapshot's directory. */
  async function snapshotOf(source: MemoryVectorSource, n: number, seed: number): Promise<string> {
    const shard = newShard(source);
    source.putMany(MV, idRange(1, n), unitVectors(n, D, seed));
    await shard.start();
    const snapshotDir = stats(shard).lastRebuild!.snapshot!;
    await shard.close();
    return snapshotDir;
  }

  for (const [what, corrupt] of corruptions) {
    it(`rebuilds from the source after ${what}, without crashing`, async () => {
      const source = new MemoryVectorSource();
      const snapshotDir = await snapshotOf(source, 400, 41);
      await corrupt(snapshotDir, modelDir(dataDir, MV));

      const shard = newShard(source);
      await shard.start();
      const s = stats(shard);
      expect(s.state).toBe('ready');
      expect(s.lastError).toMatchObject({ code: 'SNAPSHOT_CORRUPT' });
      expect(s.lastError!.message).toMatch(/Snapshot .* is unusable|Snapshot .*:/);
      expect(s.main).toMatchObject({ vectors: 400 });
      await expectMatchesSource(shard, source, 20);
      // the bad snapshot is kept aside and a fresh one is current
      const entries = await readdir(modelDir(dataDir, MV));
      expect(entries.some((e) => e.startsWith('corrupt-'))).toBe(true);
      expect(s.lastRebuild!.snapshot).not.toBe(snapshotDir);
    });
  }

  it('starts empty with the error on record when the snapshot is corrupt and there is no source', async () => {
    const snapshotDir = await snapshotOf(new MemoryVectorSource(), 100, 51);
    await truncate(join(snapshotDir, 'index.faiss'), 10);
    const shard = newShard(undefined);
    await shard.start();
    expect(stats(shard)).toMatchObject({
      state: 'ready',
      main: null,
      lastError: { code: 'SNAPSHOT_CORRUPT' },
    });
    const [hits] = await shard.search({ modelVersion: MV, queries: unitVectors(1, D), k: 3 });
    expect(hits).toEqual([]);
  });

  it('answers SHARD_NOT_READY while it loads, then serves', async () => {
    const inner = new MemoryVectorSource();
    const source = new GatedSource(inner);
    inner.putMany(MV, idRange(1, 200), unitVectors(200, D, 61));
    source.hold(50);
    const shard = newShard(source, {}, false);
    const starting = shard.start();
    await source.paused;
    expect(shard.health().status).toBe('loading');
    await expect(shard.search({ modelVersion: MV, queries: unitVectors(1, D), k: 3 })).rejects.toMatchObject({
      code: 'SHARD_NOT_READY',
    });
    source.release();
    await starting;
    expect(shard.health().status).toBe('ok');
    await expectMatchesSource(shard, inner, 10);
  });
});
