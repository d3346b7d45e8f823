import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../api/src/cache/memory-cache.ts';
import { migrate } from '../../api/src/db/migrate.ts';
import { createPgDatabase } from '../../api/src/db/pg-database.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import type { Backend } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { privatePostgres, seedColours } from './support.ts';

const SEARCH = 'query($input: SearchInput!) { search(input: $input) { partial hits { image { id } } } }';

describe('item 17: Postgres down (a private Postgres, stopped and started)', () => {
  let postgres: Awaited<ReturnType<typeof privatePostgres>>;
  let backend: Backend;
  let t: TestApp;
  let ids: Map<string, string>;

  beforeAll(async () => {
    await ensureTinyClip();
    postgres = await privatePostgres();
    const db = createPgDatabase(postgres.url, { max: 5 });
    await migrate(db);
    const cache = createMemoryCache();
    backend = {
      name: 'private-postgres+memory',
      db,
      cache,
      async dispose() {
        await cache.close();
        await db.close();
      },
    };
    t = await createTestApp(backend, {}, { nsfw: false });
    ({ ids } = await seedColours(t, ['red', 'green', 'blue']));
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
    await postgres?.dispose();
  });

  const search = (input: Record<string, unknown>) =>
    t.gql<{ search: { partial: boolean; hits: { image: { id: string } }[] } }>(SEARCH, { input });

  it('answers normally while Postgres is up', async () => {
    const { status, body } = await search({ text: 'red' });
    expect(status).toBe(200);
    expect(body.data!.search.hits.map((h) => h.image.id)).toContain(ids.get('red'));
  });

  it('answers 503 SERVICE_UNAVAILABLE, not an empty 200, when hits cannot be gated or hydrated', async () => {
    await postgres.stop();
    for (const input of [{ text: 'red' }, { text: 'green', labels: ['sky'] }, { imageId: ids.get('blue') }]) {
      const { status, body } = await search(input);
      expect(body.data?.search ?? null).toBeNull();
      expect(body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(status).toBe(503);
    }
  }, 60_000);

  it('answers again once Postgres is back', async () => {
    await postgres.start();
    let hits: string[] = [];
    for (let i = 0; i < 30 && !hits.includes(ids.get('red')!); i++) {
      const { body } = await search({ text: 'red' });
      hits = body.data?.search.hits.map((h) => h.image.id) ?? [];
      if (!hits.length) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(hits).toContain(ids.get('red'));
  }, 60_000);
});
