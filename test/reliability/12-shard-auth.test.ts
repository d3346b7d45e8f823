// Issue 10 item 12: anyone who reached a shard server's port could search, rewrite or rebuild
// the index. Every call but /healthz and /readyz now needs the shared SHARD_AUTH_TOKEN, and a server that
// listens beyond loopback refuses to start without one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterError } from '../../search-cluster/src/errors.ts';
import { ShardClient } from '../../search-cluster/src/protocol/client.ts';
import {
  encodeDeleteRequest,
  encodeSearchRequest,
  encodeUpsertRequest,
} from '../../search-cluster/src/protocol/wire.ts';
import { createRouter } from '../../search-cluster/src/router/config.ts';
import { loadShardServerConfig } from '../../search-cluster/src/server/config.ts';
import { type ShardServer, startShardServer } from '../../search-cluster/src/server/server.ts';
import { faissFactory } from '../../search-cluster/src/shard/faiss-factory.ts';
import { Shard } from '../../search-cluster/src/shard/shard.ts';
import { idRange, unitVectors } from '../../search-cluster/src/shard/test-vectors.ts';

const D = 8;
const MV = 'auth-test@1';
const TOKEN = `${'a'.repeat(16)}shard-auth-token-for-tests`;

describe('shard servers authenticate every call (issue 10 item 12)', () => {
  let dataDir: string;
  let shard: Shard;
  let server: ShardServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pixelfind-shard-auth-'));
    shard = new Shard({
      partition: { index: 0, count: 1 },
      modelVersions: [{ name: MV, dimension: D }],
      factory: faissFactory,
      dataDir: join(dataDir, 'shard'),
    });
    await shard.start();
    server = await startShardServer({ shard, authToken: TOKEN });
    // the owner's data: what an attacker would like to rewrite
    const owner = new ShardClient(server.url, { authToken: TOKEN });
    await owner.upsert(MV, idRange(1, 20), unitVectors(20, D, 3));
    owner.close();
  });

  afterAll(async () => {
    await server?.close();
    await shard?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const vectors = unitVectors(1, D, 5);
  const attacks: [string, string, Uint8Array<ArrayBuffer> | string | null][] = [
    [
      'POST',
      '/v1/search',
      new Uint8Array(encodeSearchRequest({ modelVersion: MV, dimension: D, k: 5, queries: vectors })),
    ],
    [
      'POST',
      '/v1/upsert',
      new Uint8Array(encodeUpsertRequest({ modelVersion: MV, dimension: D, ids: idRange(1, 1), vectors })),
    ],
    ['POST', '/v1/delete', new Uint8Array(encodeDeleteRequest({ modelVersion: MV, ids: idRange(1, 20) }))],
    ['POST', '/v1/rebuild', JSON.stringify({ modelVersion: MV })],
    ['GET', '/v1/model-versions', null],
    ['POST', '/v1/model-versions', JSON.stringify({ name: 'evil@1', dimension: 4 })],
    ['GET', '/v1/stats', null],
  ];

  for (const [method, path, body] of attacks) {
    for (const [label, authorization] of [
      ['no token', undefined],
      ['a wrong token', `Bearer ${TOKEN.slice(0, -1)}x`],
      ['the token without Bearer', TOKEN],
    ] as const) {
      it(`${method} ${path} with ${label} is 401 and changes nothing`, async () => {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: authorization ? { authorization } : {},
          body: body ?? undefined,
        });
        expect(response.status).toBe(401);
        expect(((await response.json()) as { code: string }).code).toBe('UNAUTHENTICATED');
      });
    }
  }

  it('after every refused call the index and its model versions are as the owner left them', async () => {
    const owner = new ShardClient(server.url, { authToken: TOKEN });
    const [hits] = await owner.search({ modelVersion: MV, k: 20, queries: unitVectors(1, D, 3) });
    expect(hits).toHaveLength(20);
    expect(shard.modelVersions.map((m) => m.name)).toEqual([MV]);
    owner.close();
  });

  it('a client without the token gets SHARD_UNAVAILABLE naming the token, so the router fails over', async () => {
    const stranger = new ShardClient(server.url);
    const error = await stranger
      .search({ modelVersion: MV, k: 5, queries: vectors })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).code).toBe('SHARD_UNAVAILABLE');
    expect((error as ClusterError).message).toMatch(/SHARD_AUTH_TOKEN/);
    stranger.close();
  });

  it('a router given the token (the API passes SHARD_AUTH_TOKEN) searches and writes', async () => {
    const router = await createRouter({
      mode: 'remote',
      replicas: [[server.url]],
      deadlineMs: 2_000,
      authToken: TOKEN,
    });
    try {
      const answer = await router.search(MV, unitVectors(1, D, 3), 3);
      expect(answer.partial).toBe(false);
      expect(answer.hits).toHaveLength(3);
    } finally {
      await router.close();
    }
  });

  it('/healthz and /readyz stay open for probes; /metrics needs the token like the index', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const scraped = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('pixelfind_shard_vectors{');
  });

  it('listens on loopback by default', async () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it('refuses to listen beyond loopback without a token, and refuses a short token', async () => {
    await expect(startShardServer({ shard, host: '0.0.0.0' })).rejects.toThrow(/SHARD_AUTH_TOKEN/);
    await expect(startShardServer({ shard, authToken: 'short' })).rejects.toThrow(/at least 32/);
    // the process refuses at config time, before it opens anything
    expect(() =>
      loadShardServerConfig({
        HOST: '0.0.0.0',
        PORT: '0',
        DATA_DIR: join(dataDir, 'refused'),
        MODEL_VERSIONS: `${MV}:${D}`,
      }),
    ).toThrow(/SHARD_AUTH_TOKEN/);
    expect(() => loadShardServerConfig({ HOST: '127.0.0.1', SHARD_AUTH_TOKEN: 'short' })).toThrow(
      /SHARD_AUTH_TOKEN.*at least 32/,
    );
  });
});
