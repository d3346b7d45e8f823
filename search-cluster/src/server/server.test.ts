import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterError } from '../errors.ts';
import { ShardClient } from '../protocol/client.ts';
import { encodeSearchRequest } from '../protocol/wire.ts';
import { MemoryVectorSource } from '../rebuild/vector-source.ts';
import { createRouter } from '../router/config.ts';
import type { ShardRouter } from '../router/router.ts';
import type { Shard } from '../shard/shard.ts';
import { idRange, row, unitVectors } from '../shard/test-vectors.ts';
import type { ShardServer } from './server.ts';
import { startReplicaServers } from './test-servers.ts';

const D = 16;
const MV = 'clip-test@1';

describe('shard servers over HTTP', () => {
  let dataDir: string;
  const source = new MemoryVectorSource();
  const vectors = unitVectors(400, D, 9);
  const ids = idRange(1, 400);
  const shards: Shard[] = [];
  const servers: ShardServer[] = [];
  let router: ShardRouter;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-server-'));
    source.putMany(MV, ids.subarray(0, 200), vectors.subarray(0, 200 * D));
    // shard 0 has two replicas, shard 1 one
    await startReplicaServers({ modelVersion: MV, dimension: D, source, dataDir, into: { shards, servers } });
    router = await createRouter({
      mode: 'remote',
      replicas: [[servers[0]!.url, servers[1]!.url], [servers[2]!.url]],
      deadlineMs: 2_000,
      hedgeAfterMs: 500,
    });
  });

  afterAll(async () => {
    await router.close();
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(shards.map((s) => s.close()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes, searches, filters, deletes and rebuilds through the router', async () => {
    source.putMany(MV, ids.subarray(200), vectors.subarray(200 * D));
    expect(await router.upsert(MV, { ids: ids.subarray(200), vectors: vectors.subarray(200 * D) })).toEqual({
      upserted: 200,
      unchanged: 0,
    });
    // both replicas of shard 0 hold the same vectors
    const [a, b] = [shards[0]!.stats(), shards[1]!.stats()];
    expect(a.modelVersions[0]!.hot.vectors).toBe(b.modelVersions[0]!.hot.vectors);

    for (const i of [0, 77, 199, 200, 399]) {
      const result = await router.search(MV, row(vectors, i, D), 5);
      expect(result).toMatchObject({ partial: false, shardsAnswered: 2, shardsTotal: 2 });
      expect(result.hits[0]!.id).toBe(BigInt(i + 1));
      expect(result.hits[0]!.score).toBeCloseTo(1, 5);
    }
    const filtered = await router.search(MV, row(vectors, 0, D), 10, { allowedIds: [5n, 250n, 399n, 1000n] });
    expect(filtered.hits.map((h) => h.id).sort()).toEqual([250n, 399n, 5n]);

    source.delete(MV, 78n);
    expect(await router.delete(MV, [78n])).toEqual({ deleted: 1 });
    expect((await router.search(MV, row(vectors, 77, D), 5)).hits.map((h) => h.id)).not.toContain(78n);

    const reports = await router.rebuild(MV);
    expect(reports).toHaveLength(3);
    expect(reports.every((r) => r.outcome?.outcome === 'rebuilt')).toBe(true);
    expect(reports.reduce((n, r) => n + (r.shard === 0 ? 0 : r.outcome!.vectors), 0)).toBeGreaterThan(100);
    expect((await router.search(MV, row(vectors, 300, D), 1)).hits[0]!.id).toBe(301n);
    expect((await router.health()).status).toBe('ok');
    const stats = await router.stats();
    expect(stats.shards[1]!.replicas[0]!.stats!.modelVersions[0]!.main!.vectors).toBeGreaterThan(100);
  });

  it('maps shard errors to ClusterError codes over the wire', async () => {
    const client = new ShardClient(servers[2]!.url);
    try {
      await expect(
        client.search({ modelVersion: MV, queries: new Float32Array(8), k: 3 }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/dimension 16 .* received 8/),
      });
      await expect(
        client.search({ modelVersion: 'other', queries: new Float32Array(D), k: 3 }),
      ).rejects.toMatchObject({
        code: 'UNKNOWN_MODEL_VERSION',
      });
      await expect(
        client.search({ modelVersion: MV, queries: new Float32Array(D).fill(Number.NaN), k: 3 }),
      ).rejects.toBeInstanceOf(ClusterError);
      // garbage bodies and unknown routes are answered, not fatal
      const garbage = await fetch(`${servers[2]!.url}/v1/search`, { method: 'POST', body: 'hello' });
      expect(garbage.status).toBe(400);
      expect(await garbage.json()).toMatchObject({ code: 'BAD_REQUEST' });
      const truncated = encodeSearchRequest({
        modelVersion: MV,
        dimension: D,
        queries: new Float32Array(D),
        k: 1,
      });
      const short = await fetch(`${servers[2]!.url}/v1/search`, {
        method: 'POST',
        body: new Uint8Array(truncated.subarray(0, 40)),
      });
      expect(short.status).toBe(400);
      expect((await fetch(`${servers[2]!.url}/nope`)).status).toBe(404);
      expect((await client.health()).status).toBe('ok');
    } finally {
      client.close();
    }
  });

  it('hedges past a dead replica and answers partial when a whole shard is gone', async () => {
    await servers[0]!.close();
    for (let i = 0; i < 3; i++) {
      const result = await router.search(MV, row(vectors, 10, D), 3);
      expect(result.partial).toBe(false);
      expect(result.hits[0]!.id).toBe(11n);
    }
    const health = await router.health();
    expect(health.status).toBe('degraded');
    expect(health.shards[0]!.replicas.find((r) => r.name === new URL(servers[0]!.url).origin)!.status).toBe(
      'down',
    );
    // writes need every replica: the caller learns which one failed and retries later
    await expect(
      router.upsert(MV, [
        { id: 1n, vector: row(vectors, 0, D) },
        { id: 2n, vector: row(vectors, 1, D) },
      ]),
    ).rejects.toMatchObject({
      code: 'SHARD_UNAVAILABLE',
    });

    await servers[2]!.close();
    const partial = await router.search(MV, row(vectors, 10, D), 3);
    expect(partial).toMatchObject({ partial: true, shardsAnswered: 1, shardsTotal: 2 });
  });
});

describe('shard server process', () => {
  it('runs from npm run search-cluster with SHARD_ID, PORT and DATA_DIR, and stops on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-process-'));
    const vectors = unitVectors(50, D, 4);
    const port = 17_000 + Math.floor(Math.random() * 2_000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'search-cluster/src/server/main.ts'], {
      env: {
        ...process.env,
        SHARD_ID: '0',
        SHARD_COUNT: '1',
        PORT: String(port),
        DATA_DIR: dataDir,
        MODEL_VERSIONS: `${MV}:${D}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // log lines go to stdout (JSON), anything unexpected to stderr: keep both
    let stderr = '';
    const collect = (chunk: Buffer) => {
      stderr += chunk.toString();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const client = new ShardClient(`http://127.0.0.1:${port}`);
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const health = await client.health().catch(() => null);
        if (health?.status === 'ok') break;
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`server did not come up: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await client.upsert(MV, idRange(1, 50), vectors.subarray(0, 50 * D));
      const [hits] = await client.search({ modelVersion: MV, queries: row(vectors, 20, D), k: 2 });
      expect(hits![0]!.id).toBe(21n);
      expect((await client.stats()).modelVersions[0]!.hot.vectors).toBe(50);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(stderr).toMatch(/"msg":"listening"/);
    } finally {
      client.close();
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
