import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, backends } from '../../../test/support/backends.ts';
import { DEFAULT_ENGAGEMENT_PRIOR } from '../feedback/engagement.ts';
import { createImageLoaders } from '../images/images.loaders.ts';
import { createImagesRepository } from '../images/images.repository.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { createFactsCache, type FactsCache } from './facts-cache.ts';
import { DEFAULT_RANKER, type RankerConfig } from './ranker.ts';
import { createSafetyEpoch } from './safety-epoch.ts';
import { createSearchRepository, type PagePlan } from './search.repository.ts';
import { createSearchService, type SearchService } from './search.service.ts';
import { pageRecords } from './search-page.ts';
import type { ScoredId } from './vectors.ts';

/** Images of each kind the gate must drop, every one more similar to the query than any safe image. */
const UNSAFE = ['rejected', 'pending', 'deleted', 'flagged', 'low-score', 'unscored'] as const;
const SAFE = 60;

/** The first `limit` by the default ranker, no relevance cut. */
const pagePlan = (limit: number): PagePlan => ({
  safetyThreshold: 0.5,
  ranker: DEFAULT_RANKER,
  prior: DEFAULT_ENGAGEMENT_PRIOR,
  now: Date.now(),
  cut: { requested: null, floor: -1, margin: 2, adaptive: false },
  offset: 0,
  limit,
});

/** A deterministic uniform in [0, 1). */
function seeded(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * The hydrate stage is one Postgres statement per search (issue 14 item 4): gate and ranking
 * facts for every candidate, display fields and tags for the page only, and the safety gate
 * still drops every unsafe candidate whichever path it comes by.
 */
describe.each(backends)('search hydration: one round trip, the page only ($name)', ({ create }) => {
  let backend: Backend;
  const safeIds: string[] = [];
  const unsafeIds = new Map<string, (typeof UNSAFE)[number]>();
  /** what the stub shard answers next */
  let candidates: ScoredId[] = [];

  const serviceWith = (
    ranker: RankerConfig,
    cached?: { factsCache: FactsCache; metrics: Metrics },
  ): SearchService => {
    const repository = createSearchRepository(backend.db);
    return createSearchService({
      repository,
      ...cached,
      cache: backend.cache,
      encoder: {
        modelVersion: 'test-model',
        dimension: 2,
        encodeText: async () => Float32Array.of(1, 0),
        encodeImage: async () => Float32Array.of(0, 1),
      },
      searcher: { search: async () => ({ hits: candidates, partial: false }) },
      safetyEpoch: createSafetyEpoch(repository),
      queryLog: { record: () => {} },
      fetchImage: async () => Buffer.alloc(0),
      // no floor: every admitted candidate is relevant, so pages are full
      relevance: { similarityFloorFor: () => -1, adaptiveMarginFor: () => 2 },
      options: {
        topK: 100,
        safetyThreshold: 0.5,
        ranker,
        embeddingTtlSeconds: 60,
        maxAllowedIds: 1000,
        imageLimits: { maxBytes: 1024, maxPixels: 1024 },
      },
    });
  };
  const ctx = () => ({
    loaders: createImageLoaders(createImagesRepository(backend.db)),
    caller: { role: 'anonymous' as const, ownerId: null, keyId: null },
  });

  /** Runs a search and resolves its hits' images and tags as GraphQL would; returns them and the statements sent. */
  async function searchCounted(
    search: SearchService,
    input: { text: string; limit: number; offset?: number },
  ) {
    const context = ctx();
    const before = backend.db.statementCount;
    const outcome = await search.search(input, context);
    const ids = outcome.hits.map((h) => h.image.id);
    const [images, tags] = await Promise.all([
      context.loaders.imageById.loadMany(ids),
      context.loaders.tagsByImageId.loadMany(ids),
    ]);
    return { outcome, images, tags, statements: backend.db.statementCount - before };
  }

  beforeAll(async () => {
    backend = await create();
    const next = seeded(7);
    const insert = async (status: string, score: number | null, ageDays: number) => {
      const { rows } = await backend.db.query<{ id: string }>(
        `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, status, sha256,
                             safety_score, created_at)
         VALUES ('t/' || gen_random_uuid(), 'image/png', 10, 8, 8, 'u', $1,
                 encode(sha256(gen_random_uuid()::text::bytea), 'hex'), $2, now() - $3::float8 * interval '1 day')
         RETURNING id::text AS id`,
        [status, score, ageDays],
      );
      return rows[0]!.id;
    };
    for (let i = 0; i < SAFE; i++) {
      const id = await insert('INDEXED', 0.5 + next() / 2, next() * 120);
      safeIds.push(id);
      await backend.db.query(
        `INSERT INTO tags (image_id, label, confidence, source) VALUES ($1, 'all', 1, 'user'), ($1, $2, 0.5, 'clip-zero-shot')`,
        [id, `t${i}`],
      );
      // engagement spread wide enough that a heavy engagement weight reorders the page
      if (i % 2 === 0) {
        const impressions = Math.floor(next() * 400);
        await backend.db.query(
          'INSERT INTO image_stats (image_id, impressions, clicks, saves) VALUES ($1, $2, $3, $4)',
          [id, impressions, Math.floor(next() * impressions * 0.3), Math.floor(next() * impressions * 0.05)],
        );
      }
    }
    for (const kind of UNSAFE) {
      const status = kind === 'rejected' ? 'REJECTED' : kind === 'pending' ? 'PENDING' : 'INDEXED';
      const score = kind === 'low-score' ? 0.49 : kind === 'unscored' ? null : 0.99;
      const id = await insert(status, score, 0);
      unsafeIds.set(id, kind);
      if (kind === 'deleted')
        await backend.db.query('UPDATE images SET deleted_at = now() WHERE id = $1', [id]);
      if (kind === 'flagged')
        await backend.db.query(`INSERT INTO safety_blocklist (image_id, reason) VALUES ($1, 'test')`, [id]);
    }
  }, 60_000);
  afterAll(async () => {
    await backend?.dispose();
  });

  /** The unsafe images on top, then the safe ones at random similarities (and an id no row has). */
  function shardAnswer(next: () => number): ScoredId[] {
    const safe = safeIds.map((id) => ({ id: BigInt(id), score: 0.2 + next() * 0.6 }));
    safe.sort((a, b) => b.score - a.score);
    const unsafe = [...unsafeIds.keys()].map((id, i) => ({ id: BigInt(id), score: 0.99 - i * 0.001 }));
    return [...unsafe, { id: 987_654_321n, score: 0.95 }, ...safe];
  }

  it('reads the page, its images and tags in one statement, and never shows an unsafe image', async () => {
    const search = serviceWith(DEFAULT_RANKER);
    candidates = shardAnswer(seeded(1));
    const { outcome, images, tags, statements } = await searchCounted(search, { text: 'q', limit: 20 });
    expect(statements).toBe(1);
    expect(outcome.hits).toHaveLength(20);
    for (const hit of outcome.hits)
      expect(unsafeIds.has(hit.image.id), unsafeIds.get(hit.image.id)).toBe(false);
    // the loaders hold what the statement read: the same rows, and the page's tags in their order
    expect(images).toEqual(outcome.hits.map((h) => h.image));
    for (const [i, hit] of outcome.hits.entries()) {
      expect(hit.image.status).toBe('INDEXED');
      expect(hit.image.flagged).toBe(false);
      expect(tags[i]).toEqual([
        { image_id: hit.image.id, label: 'all', confidence: 1, source: 'user' },
        expect.objectContaining({ image_id: hit.image.id, source: 'clip-zero-shot', confidence: 0.5 }),
      ]);
    }
  });

  it('one statement for every page, weights and similarities: the SQL pick is the page the service ranks', async () => {
    const weightings: RankerConfig[] = [
      DEFAULT_RANKER,
      // engagement and recency outweigh similarity: the page is far from the similarity order
      { version: 'heavy', weights: { similarity: 0.2, engagement: 3, recency: 1 }, recencyHalfLifeDays: 7 },
      { version: 'recency', weights: { similarity: 1, engagement: 0, recency: 2 }, recencyHalfLifeDays: 1 },
    ];
    const next = seeded(2);
    let reordered = false;
    for (const ranker of weightings) {
      const search = serviceWith(ranker);
      for (let round = 0; round < 6; round++) {
        candidates = shardAnswer(next);
        const offset = round * 9;
        const { outcome, statements } = await searchCounted(search, { text: 'q', limit: 10, offset });
        expect(statements, `${ranker.version} offset ${offset}`).toBe(1);
        expect(outcome.hits).toHaveLength(Math.min(10, SAFE - offset));
        const scores = outcome.hits.map((h) => h.score);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
        const similarities = outcome.hits.map((h) => h.similarity);
        if (similarities.some((s, i) => i > 0 && s > similarities[i - 1]!)) reordered = true;
      }
    }
    // the weights did move images against the similarity order, so the SQL ranking was exercised
    expect(reordered).toBe(true);
  });

  const hydratePaths = async (metrics: Metrics) =>
    Object.fromEntries(
      (
        (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'pixelfind_search_hydrate_total')
          ?.values ?? []
      ).map((v) => [v.labels.path, v.value]),
    );

  it('with the facts cache, a search whose candidates are all known reads only its page: the page a full read shows', async () => {
    const metrics = createMetrics();
    const factsCache = createFactsCache({ ttlMs: 60_000, maxEntries: 1000 })!;
    const cached = serviceWith(DEFAULT_RANKER, { factsCache, metrics });
    candidates = shardAnswer(seeded(4));
    const first = await searchCounted(cached, { text: 'q', limit: 20 });
    expect(first.statements).toBe(1);
    // every candidate is known now, the id no row has included
    expect(factsCache.size).toBe(candidates.length);
    for (const offset of [0, 20]) {
      const again = await searchCounted(cached, { text: 'q', limit: 20, offset });
      const uncached = await searchCounted(serviceWith(DEFAULT_RANKER), { text: 'q', limit: 20, offset });
      expect(again.statements).toBe(1);
      expect(again.outcome.hits.map((h) => h.image.id)).toEqual(uncached.outcome.hits.map((h) => h.image.id));
      // the same scores, but for recency's "now", a few milliseconds later
      for (const [i, hit] of again.outcome.hits.entries())
        expect(hit.score).toBeCloseTo(uncached.outcome.hits[i]!.score, 6);
      expect(again.outcome.hasNextPage).toBe(uncached.outcome.hasNextPage);
      // what GraphQL resolves (images and tags) came with the page statement
      expect(again.images).toEqual(again.outcome.hits.map((h) => h.image));
      expect(again.tags).toEqual(uncached.tags);
    }
    expect(await hydratePaths(metrics)).toEqual({ full: 1, page: 2 });

    // the stats job counted impressions meanwhile: fresher counts on the page rows alone do not
    // reorder the page the cached counts picked (which would read an unread row through the loaders)
    const shown = await searchCounted(cached, { text: 'q', limit: 20 });
    const pageIds = shown.outcome.hits.map((h) => h.image.id);
    const { rows: saved } = await backend.db.query<{
      image_id: string;
      impressions: number;
      clicks: number;
      saves: number;
    }>(
      'SELECT image_id::text AS image_id, impressions, clicks, saves FROM image_stats WHERE image_id = ANY($1::bigint[])',
      [pageIds],
    );
    await backend.db.query(
      `INSERT INTO image_stats (image_id, impressions, clicks, saves) SELECT unnest($1::bigint[]), 5000, 0, 0
       ON CONFLICT (image_id) DO UPDATE SET impressions = 5000, clicks = 0, saves = 0`,
      [pageIds],
    );
    try {
      const later = await searchCounted(cached, { text: 'q', limit: 20 });
      expect(later.statements).toBe(1);
      expect(later.outcome.hits.map((h) => h.image.id)).toEqual(pageIds);
    } finally {
      await backend.db.query('DELETE FROM image_stats WHERE image_id = ANY($1::bigint[])', [pageIds]);
      for (const row of saved)
        await backend.db.query(
          'INSERT INTO image_stats (image_id, impressions, clicks, saves) VALUES ($1, $2, $3, $4)',
          [row.image_id, row.impressions, row.clicks, row.saves],
        );
    }
  });

  it('an image taken down, flagged, rejected or scored unsafe since its facts were cached is never shown, and the page stays full', async () => {
    const metrics = createMetrics();
    const factsCache = createFactsCache({ ttlMs: 60_000, maxEntries: 1000 })!;
    const cached = serviceWith(DEFAULT_RANKER, { factsCache, metrics });
    candidates = shardAnswer(seeded(5));
    const before = await searchCounted(cached, { text: 'q', limit: 20 });
    const [flagged, rejected, deleted, unsafe] = before.outcome.hits.map((h) => h.image.id);
    const changes = [
      [
        `INSERT INTO safety_blocklist (image_id, reason) VALUES ($1, 'since')`,
        'DELETE FROM safety_blocklist WHERE image_id = $1',
        flagged,
      ],
      [
        `UPDATE images SET status = 'REJECTED' WHERE id = $1`,
        `UPDATE images SET status = 'INDEXED' WHERE id = $1`,
        rejected,
      ],
      [
        'UPDATE images SET deleted_at = now() WHERE id = $1',
        'UPDATE images SET deleted_at = NULL WHERE id = $1',
        deleted,
      ],
    ] as const;
    const { rows } = await backend.db.query<{ safety_score: number }>(
      'SELECT safety_score FROM images WHERE id = $1',
      [unsafe],
    );
    // straight in the database, as another API process or an operator would: this process's cache is not told
    for (const [apply, , id] of changes) await backend.db.query(apply, [id]);
    await backend.db.query('UPDATE images SET safety_score = 0.1 WHERE id = $1', [unsafe]);
    try {
      const after = await searchCounted(cached, { text: 'q', limit: 20 });
      const shown = after.outcome.hits.map((h) => h.image.id);
      for (const id of [flagged, rejected, deleted, unsafe]) expect(shown).not.toContain(id);
      expect(shown).toHaveLength(20);
      // the page statement refused them, so the full statement ran: two statements, this once
      expect(after.statements).toBe(2);
      const uncached = await searchCounted(serviceWith(DEFAULT_RANKER), { text: 'q', limit: 20 });
      expect(shown).toEqual(uncached.outcome.hits.map((h) => h.image.id));
      // the full read refreshed the cache: the next search reads its page alone again
      const next = await searchCounted(cached, { text: 'q', limit: 20 });
      expect(next.statements).toBe(1);
      expect(next.outcome.hits.map((h) => h.image.id)).toEqual(shown);
      expect(await hydratePaths(metrics)).toEqual({ full: 1, recheck: 1, page: 1 });
    } finally {
      for (const [, undo, id] of changes) await backend.db.query(undo, [id]);
      await backend.db.query('UPDATE images SET safety_score = $2 WHERE id = $1', [
        unsafe,
        rows[0]!.safety_score,
      ]);
    }
  });

  it('reads nothing for a search without candidates', async () => {
    candidates = [];
    const { outcome, statements } = await searchCounted(serviceWith(DEFAULT_RANKER), { text: 'q', limit: 5 });
    expect(outcome.hits).toEqual([]);
    expect(statements).toBe(0);
  });

  it('reads the safety epoch it gated at, in the page statement', async () => {
    const repository = createSearchRepository(backend.db);
    const { rows } = await backend.db.query<{ epoch: string }>(
      'SELECT epoch::text AS epoch FROM safety_epoch',
    );
    const epoch = createSafetyEpoch(repository);
    expect(epoch.latest()).toBeNull();
    const read = await repository.pageOf(shardAnswer(seeded(3)), pagePlan(3));
    expect(read.epoch).toBe(rows[0]!.epoch);
    epoch.observe(read.epoch);
    expect(epoch.latest()).toBe(BigInt(rows[0]!.epoch));
    // an older epoch never moves it back
    epoch.observe('0');
    expect(epoch.latest()).toBe(BigInt(rows[0]!.epoch));
    // the page only is hydrated
    expect(read.candidates.filter((c) => c.display !== null)).toHaveLength(3);
    expect(read.candidates).toHaveLength(SAFE + UNSAFE.length);
  });

  it('a page row the statement did not hydrate is read again and gated again (flagged since: dropped)', async () => {
    const repository = createSearchRepository(backend.db);
    const read = await repository.pageOf(
      safeIds.slice(0, 2).map((id, i) => ({ id: BigInt(id), score: 0.9 - i / 10 })),
      pagePlan(2),
    );
    const [first, second] = safeIds;
    // as if the SQL ranking had split a near-tie the other way: neither is hydrated
    const facts = read.candidates.map((c) => ({ ...c, display: null }));
    await backend.db.query(`INSERT INTO safety_blocklist (image_id, reason) VALUES ($1, 'since')`, [second]);
    try {
      const loaders = ctx().loaders;
      const records = await pageRecords(
        [facts.find((f) => f.id === first)!, facts.find((f) => f.id === second)!],
        loaders,
        0.5,
      );
      expect(records.map((r) => r?.id ?? null)).toEqual([first, null]);
    } finally {
      await backend.db.query('DELETE FROM safety_blocklist WHERE image_id = $1', [second]);
    }
  });
});
