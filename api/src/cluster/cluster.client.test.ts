import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../../test/support/backends.ts';
import { type ClusterClient, createClusterClient } from './cluster.client.ts';

const MV = 'clip-test@1';
const D = 8;
const unit = (i: number) => {
  const v = new Float32Array(D);
  v[i % D] = 1;
  return v;
};
const codeOf = (error: unknown) => (error as { extensions?: { code?: string } }).extensions?.code;

describe('the search cluster client', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  });

  async function client(shards: string): Promise<ClusterClient> {
    const backend = await createEmbeddedBackend();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'pf-cluster-client-'));
    cleanups.push(
      () => backend.dispose(),
      () => rm(dataDir, { recursive: true, force: true }),
    );
    const c = await createClusterClient({
      shards,
      deadlineMs: 2000,
      modelVersions: [{ name: MV, dimension: D }],
      db: backend.db,
      dataDir,
    });
    cleanups.push(() => c.close());
    return c;
  }

  it('writes to and finds across in-process shards, and forgets what it removed', async () => {
    const cluster = await client('3');
    expect(cluster.shardCount).toBe(3);
    await cluster.upsert(
      MV,
      Array.from({ length: 24 }, (_, i) => ({ id: BigInt(i + 1), vector: unit(i) })),
    );
    const found = await cluster.search(MV, unit(2), 3);
    expect(found.partial).toBe(false);
    expect(new Set(found.hits.map((h) => h.id))).toEqual(new Set([3n, 11n, 19n]));
    await cluster.remove(MV, [11n]);
    const after = await cluster.search(MV, unit(2), 3);
    expect(after.hits.map((h) => h.id)).not.toContain(11n);
    expect((await cluster.health()).status).toBe('ok');
  });

  it('turns bad input and a closed cluster into the API coded errors', async () => {
    const cluster = await client('2');
    await expect(cluster.search(MV, unit(0), -1)).rejects.toSatisfy((e) => codeOf(e) === 'BAD_USER_INPUT');
    await expect(cluster.search(MV, new Float32Array(D + 1), 5)).rejects.toSatisfy(
      (e) => codeOf(e) === 'BAD_USER_INPUT',
    );
    await cluster.close();
    await expect(cluster.search(MV, unit(0), 5)).rejects.toSatisfy(
      (e) => codeOf(e) === 'SERVICE_UNAVAILABLE',
    );
  });
});
