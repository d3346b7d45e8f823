import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import {
  type Backend,
  createPostgresBackend,
  postgresAvailable,
  redisAvailable,
} from '../support/backends.ts';
import { startTestShards, type TestShards } from '../support/processes.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const COLOURS = ['red', 'green', 'blue', 'yellow', 'cyan', 'black', 'white', 'orange'] as const;

/**
 * Cluster mode as deployed: shard servers as their own processes (source of record: the
 * embeddings table), the API routing to them over HTTP. A shard that dies makes answers
 * partial; restarted, it reloads and refills and answers whole again.
 */
describe.runIf(postgresAvailable && redisAvailable)(
  'cluster mode: API over two shard server processes',
  () => {
    let backend: Backend;
    let t: TestApp;
    let worker: IndexingWorker;
    let shards: TestShards;
    const ids = new Map<string, string>();

    // minSimilarity -1: every image is a hit (no relevance floor), so a lost shard always shows
    const search = async (text: string) => {
      const { body } = await t.gql<{ search: { partial: boolean; hits: { image: { id: string } }[] } }>(
        'query($t: String!) { search(input: { text: $t, limit: 10, minSimilarity: -1 }) { partial hits { image { id } } } }',
        { t: text },
      );
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data!.search;
    };

    useTestApps(
      createPostgresBackend,
      async (open, postgres) => {
        backend = postgres;
        shards = await startTestShards(backend);
        t = await open(
          {
            // the backend's pool and cache are passed in; these name the same stores
            // one replica per shard here: the replica failover is cluster-local.e2e.test.ts's
            ...shards.coreEnv(),
            ALLOW_ANONYMOUS_UPLOADS: 'true',
            SHARD_DEADLINE_MS: '2000',
          },
          { nsfw: false },
        );
        worker = await t.services.createWorker();
        for (const colour of COLOURS) {
          const { body } = await t.upload(await makeColourImage({ colour, size: 48 }), {});
          if (body.errors) throw new Error(JSON.stringify(body.errors));
          ids.set(colour, (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id);
        }
        while ((await worker.runBatch()).length > 0) {}
      },
      180_000,
    );

    afterAll(async () => {
      await shards?.stop();
    });

    it('indexes into the shard servers and finds by text across both', async () => {
      const stats = await t.services.cluster.stats();
      // every vector sits in one shard server: hot tier plus live main-tier vectors
      const perShard = stats.shards.map((s) =>
        (s.replicas[0]?.stats?.modelVersions ?? []).reduce(
          (n, m) => n + m.hot.vectors + (m.main?.live ?? 0),
          0,
        ),
      );
      expect(perShard.reduce((a, b) => a + b, 0)).toBe(ids.size);
      expect(perShard.every((n) => n > 0)).toBe(true);
      const found = await search('red');
      expect(found.partial).toBe(false);
      expect(found.hits[0]!.image.id).toBe(ids.get('red'));
    });

    it('answers partial while a shard is down, and whole again once it restarts and refills', async () => {
      const before = await search('blue');
      const victim = shards.children[1]!;
      victim.kill('SIGKILL');
      await once(victim, 'exit');
      const during = await search('blue');
      expect(during.partial).toBe(true);
      expect(during.hits.length).toBeLessThan(before.hits.length);

      await shards.start(1);
      const after = await search('blue');
      expect(after.partial).toBe(false);
      // the same hits and the same best hit; near-zero ties (1e-6 apart) may swap places
      const idsOf = (a: typeof before) => a.hits.map((h) => h.image.id).sort();
      expect(idsOf(after)).toEqual(idsOf(before));
      expect(after.hits[0]!.image.id).toBe(before.hits[0]!.image.id);
    }, 120_000);
  },
);
