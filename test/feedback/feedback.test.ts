import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKeysRepository } from '../../api/src/auth/api-keys.repository.ts';
import { type ApiKeysService, createApiKeysService } from '../../api/src/auth/api-keys.service.ts';
import type { Database } from '../../api/src/db/database.ts';
import {
  createFeedbackServices,
  type FeedbackServices,
} from '../../api/src/feedback/create-feedback-services.ts';
import type { QueryLogEntry } from '../../api/src/feedback/query-log.ts';
import {
  aggregateImageStats,
  catchUpImageStats,
  IMAGE_STATS_WATERMARK,
  startStatsAggregation,
} from '../../api/src/feedback/stats-aggregation.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createFeedbackApp, insertIndexedImage, logSearch } from '../support/feedback-app.ts';

const CLICK = `mutation($queryId: ID!, $imageId: ID!) { recordClick(input: { queryId: $queryId, imageId: $imageId }) { ok position } }`;
const SAVE = `mutation($imageId: ID!) { saveImage(input: { imageId: $imageId }) { image { id status } } }`;

interface Stats {
  impressions: number;
  clicks: number;
  saves: number;
}

describe.each(backends)('feedback: query log, clicks, saves, image_stats ($name)', ({ create }) => {
  let backend: Backend;
  let apiKeys: ApiKeysService;
  let feedback: FeedbackServices;
  let gql: ReturnType<typeof createFeedbackApp>;

  beforeAll(async () => {
    backend = await create();
    apiKeys = createApiKeysService(createApiKeysRepository(backend.db), backend.cache);
    // the timer never fires on its own here: a click must find its query without it
    feedback = createFeedbackServices(backend.db, { queryLog: { flushEveryMs: 60_000 } });
    gql = createFeedbackApp(backend.db, apiKeys, feedback);
  });
  afterAll(async () => {
    await feedback?.queryLog.close();
    await backend?.dispose();
  });

  const insertImage = (options?: { deleted?: boolean }) => insertIndexedImage(backend.db, options);
  const images = (n: number) => Promise.all(Array.from({ length: n }, () => insertImage()));

  // run anonymously in-process, as the clicks below are sent: only that caller may click
  const search = (resultIds: string[], overrides: Partial<QueryLogEntry> = {}) =>
    logSearch(feedback, resultIds, { apiKeyId: null, callerRef: 'anonymous', ...overrides });

  const click = (queryId: string, imageId: string, headers?: Record<string, string>) =>
    gql<{ recordClick: { ok: boolean; position: number } }>(CLICK, { queryId, imageId }, headers);
  const save = (imageId: string, headers?: Record<string, string>) =>
    gql<{ saveImage: { image: { id: string } } }>(SAVE, { imageId }, headers);
  const count = async (sql: string, params: unknown[] = []) =>
    (await backend.db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const clickRows = () => count('SELECT count(*)::int AS n FROM clicks');
  const saveRows = () => count('SELECT count(*)::int AS n FROM saves');

  async function statsOf(ids: string[]): Promise<Record<string, Stats>> {
    const { rows } = await backend.db.query<{ id: string } & Stats>(
      `SELECT i.id::text AS id, coalesce(s.impressions, 0)::int AS impressions, coalesce(s.clicks, 0)::int AS clicks,
         coalesce(s.saves, 0)::int AS saves
       FROM unnest($1::bigint[]) AS i(id) LEFT JOIN image_stats s ON s.image_id = i.id`,
      [ids],
    );
    return Object.fromEntries(rows.map(({ id, ...stats }) => [id, stats]));
  }
  /** Everything committed so far is counted, and the counts are as expected. */
  async function aggregateUntil(ids: string[], expected: Record<string, Stats>) {
    await catchUpImageStats(backend.db);
    expect(await statsOf(ids)).toEqual(expected);
  }

  describe('query log', () => {
    it('writes 1000 searches in two statements, result ids in the order shown', async () => {
      await feedback.queryLog.flush();
      const before = backend.db.statementCount;
      // ids no image will ever have: these rows must not add impressions to the images of later tests
      const unused = (n: number) => String(9_000_000_000_000_000n + BigInt(n));
      const ids = Array.from({ length: 1000 }, (_, i) => search([unused(i + 3), unused(2), unused(1)]));
      expect(backend.db.statementCount).toBe(before); // nothing on the search's path
      await feedback.queryLog.flush();
      expect(backend.db.statementCount - before).toBe(2);
      expect(
        await count('SELECT count(*)::int AS n FROM search_queries WHERE id = ANY($1::uuid[])', [ids]),
      ).toBe(1000);
      const { rows } = await backend.db.query<{ result_ids: string[] }>(
        'SELECT result_ids::text[] AS result_ids FROM search_queries WHERE id = $1',
        [ids[41]],
      );
      expect(rows[0]?.result_ids).toEqual([unused(44), unused(2), unused(1)]);
    });

    it('stores a query text with NUL and a lone surrogate instead of losing its batch', async () => {
      const id = search([], { queryText: 'red\u0000 car \ud800', filters: { labels: ['a\u0000'] } });
      const neighbour = search([]);
      await feedback.queryLog.flush();
      const { rows } = await backend.db.query<{ query_text: string; filters: unknown }>(
        'SELECT query_text, filters FROM search_queries WHERE id = $1',
        [id],
      );
      expect(rows[0]).toEqual({ query_text: 'red car \ufffd', filters: { labels: ['a'] } });
      expect(await count('SELECT count(*)::int AS n FROM search_queries WHERE id = $1', [neighbour])).toBe(1);
    });
  });

  describe('recordClick', () => {
    it('accepts a click that arrives before its query is written, and records the position shown', async () => {
      const [a, b, c] = await images(3);
      const queryId = search([a!, b!, c!]);
      expect(feedback.queryLog.isPending(queryId)).toBe(true);
      const { body } = await click(queryId, c!);
      expect(body.errors).toBeUndefined();
      expect(body.data?.recordClick).toEqual({ ok: true, position: 2 });
      const { rows } = await backend.db.query<{ position: number }>(
        'SELECT position FROM clicks WHERE query_id = $1 AND image_id = $2',
        [queryId, c],
      );
      expect(rows).toEqual([{ position: 2 }]);
    });

    it('counts a second click on the same result once (issue 10 item 9)', async () => {
      const [a] = await images(1);
      const queryId = search([a!]);
      await click(queryId, a!);
      const again = await click(queryId, a!);
      expect(again.body.data?.recordClick.position).toBe(0);
      expect(await count('SELECT count(*)::int AS n FROM clicks WHERE query_id = $1', [queryId])).toBe(1);
    });

    describe('bad input gets a coded error and writes no click', () => {
      let shownId: string;
      let otherId: string;
      let queryId: string;
      beforeAll(async () => {
        [shownId, otherId] = (await images(2)) as [string, string];
        queryId = search([shownId]);
        await feedback.queryLog.flush();
      });
      const cases: [string, () => [string, string], string, RegExp][] = [
        ['a malformed queryId', () => ['not-a-uuid', shownId], 'BAD_USER_INPUT', /queryId/],
        ['an unknown queryId', () => [randomUUID(), shownId], 'NOT_FOUND', /No search query/],
        [
          'an image the query did not show',
          () => [queryId, otherId],
          'BAD_USER_INPUT',
          /^Image \d+ was not shown by query [0-9a-f-]{36}$/,
        ],
        ['a malformed imageId', () => [queryId, 'abc'], 'BAD_USER_INPUT', /imageId/],
        ['a negative imageId', () => [queryId, '-1'], 'BAD_USER_INPUT', /imageId/],
      ];
      it.each(cases)('%s', async (_name, args, code, message) => {
        const before = await clickRows();
        const { body } = await click(...args());
        expect(body.errors?.[0]?.extensions?.code).toBe(code);
        expect(body.errors?.[0]?.message).toMatch(message);
        expect(body.data ?? null).toBeNull();
        expect(await clickRows()).toBe(before);
      });
    });
  });

  describe('saveImage', () => {
    let userKey: string;
    beforeAll(async () => {
      userKey = (await apiKeys.create('user', 'ann')).key;
    });
    const asAnn = () => ({ authorization: `Bearer ${userKey}` });

    it('saves once however often it is asked, for the key owner', async () => {
      const [a] = await images(1);
      const before = await saveRows();
      for (let i = 0; i < 3; i++) {
        const { body } = await save(a!, asAnn());
        expect(body.errors).toBeUndefined();
        expect(body.data?.saveImage.image.id).toBe(a);
      }
      expect(await saveRows()).toBe(before + 1);
      expect(
        await count('SELECT count(*)::int AS n FROM saves WHERE image_id = $1 AND user_id = $2', [a, 'ann']),
      ).toBe(1);
    });

    it.each([
      ['a deleted image', () => insertImage({ deleted: true }), 'NOT_FOUND'],
      ['an unknown image', async () => '987654321', 'NOT_FOUND'],
      ['a malformed image id', async () => 'x1', 'BAD_USER_INPUT'],
    ])('refuses %s with a coded error and saves nothing', async (_name, imageId, code) => {
      const before = await saveRows();
      const { body } = await save(await imageId(), asAnn());
      expect(body.errors?.[0]?.extensions?.code).toBe(code);
      expect(await saveRows()).toBe(before);
    });

    it('needs an API key', async () => {
      const { body } = await save(await insertImage());
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('image_stats aggregation', () => {
    const watermark = async () =>
      (
        await backend.db.query<{ position: string }>(
          'SELECT position FROM aggregation_watermarks WHERE name = $1',
          [IMAGE_STATS_WATERMARK],
        )
      ).rows[0]?.position ?? null;

    it('counts impressions, clicks and saves, and a re-run counts nothing twice', async () => {
      const [a, b, c] = (await images(3)) as [string, string, string];
      const q1 = search([a, b]);
      const q2 = search([b, c]);
      search([a]);
      await click(q1, a);
      await click(q2, c);
      await click(q2, c);
      await feedback.feedback.saveImage(b, 'u1');
      await feedback.feedback.saveImage(b, 'u2');
      await feedback.feedback.saveImage(b, 'u2');
      const expected = {
        [a]: { impressions: 2, clicks: 1, saves: 0 },
        [b]: { impressions: 2, clicks: 0, saves: 2 },
        // the second click on (q2, c) counts nothing
        [c]: { impressions: 1, clicks: 1, saves: 0 },
      };
      await aggregateUntil([a, b, c], expected);
      for (let i = 0; i < 3; i++) await aggregateImageStats(backend.db);
      expect(await statsOf([a, b, c])).toEqual(expected);

      // new events are added to what is there
      await click(q1, b);
      await feedback.feedback.saveImage(a, 'u1');
      await aggregateUntil([a, b, c], {
        ...expected,
        [a]: { impressions: 2, clicks: 1, saves: 1 },
        [b]: { impressions: 2, clicks: 1, saves: 2 },
      });
    });

    it('a run that dies before its watermark moves changes no count, and the next run counts once', async () => {
      const [a] = (await images(1)) as [string];
      const queryId = search([a]);
      await click(queryId, a);
      await feedback.feedback.saveImage(a, 'u1');
      const crashing: Database = {
        ...backend.db,
        transaction: (fn) =>
          backend.db.transaction((tx) =>
            fn({
              exec: (sql) => tx.exec(sql),
              query: (sql, params) =>
                sql.startsWith('UPDATE aggregation_watermarks')
                  ? Promise.reject(new Error('killed before the watermark moved'))
                  : tx.query(sql, params),
            }),
          ),
      };
      // retried until the run has something to read (see aggregateUntil)
      await vi.waitFor(
        async () => {
          const before = await watermark();
          await expect(aggregateImageStats(crashing)).rejects.toThrow(/killed/);
          expect(await watermark()).toBe(before);
        },
        { timeout: 10_000, interval: 50 },
      );
      expect(await statsOf([a])).toEqual({ [a]: { impressions: 0, clicks: 0, saves: 0 } });
      await aggregateUntil([a], { [a]: { impressions: 1, clicks: 1, saves: 1 } });
      await aggregateImageStats(backend.db);
      expect(await statsOf([a])).toEqual({ [a]: { impressions: 1, clicks: 1, saves: 1 } });
    });

    it('two runs at once count everything once', async () => {
      const [a] = (await images(1)) as [string];
      const queryId = search([a]);
      await click(queryId, a);
      await feedback.queryLog.flush();
      await vi.waitFor(
        async () => {
          await Promise.all([aggregateImageStats(backend.db), aggregateImageStats(backend.db)]);
          expect(await statsOf([a])).toEqual({ [a]: { impressions: 1, clicks: 1, saves: 0 } });
        },
        { timeout: 10_000, interval: 50 },
      );
    });

    it('a click committed after a later one is still counted, once (Postgres)', async (context) => {
      if (backend.db.engine !== 'postgres') context.skip();
      const [a, b] = (await images(2)) as [string, string];
      const queryId = search([a, b]);
      await feedback.queryLog.flush();
      await aggregateUntil([a, b], {
        [a]: { impressions: 1, clicks: 0, saves: 0 },
        [b]: { impressions: 1, clicks: 0, saves: 0 },
      });

      // the click on a takes its place in line first but commits last
      let commitSlow!: () => void;
      const slowMayCommit = new Promise<void>((resolve) => {
        commitSlow = resolve;
      });
      let slowInserted!: () => void;
      const slowHasInserted = new Promise<void>((resolve) => {
        slowInserted = resolve;
      });
      const slow = backend.db.transaction(async (tx) => {
        await tx.query('INSERT INTO clicks (query_id, image_id, position) VALUES ($1, $2, 0)', [queryId, a]);
        slowInserted();
        await slowMayCommit;
      });
      try {
        await slowHasInserted;
        await click(queryId, b);
        await aggregateImageStats(backend.db);
        // b's click waits for the older, still open transaction; nothing is skipped past it
        expect((await statsOf([b]))[b]?.clicks).toBe(0);
      } finally {
        commitSlow();
        await slow;
      }
      await aggregateUntil([a, b], {
        [a]: { impressions: 1, clicks: 1, saves: 0 },
        [b]: { impressions: 1, clicks: 1, saves: 0 },
      });
      await aggregateImageStats(backend.db);
      expect(await statsOf([a, b])).toEqual({
        [a]: { impressions: 1, clicks: 1, saves: 0 },
        [b]: { impressions: 1, clicks: 1, saves: 0 },
      });
    });

    it('runs on its own until stopped', async () => {
      const [a] = (await images(1)) as [string];
      search([a]);
      await feedback.queryLog.flush();
      const runs: unknown[] = [];
      const stop = startStatsAggregation({
        db: backend.db,
        everyMs: 20,
        onRun: (outcome) => runs.push(outcome),
      });
      try {
        await vi.waitFor(async () => expect((await statsOf([a]))[a]?.impressions).toBe(1), {
          timeout: 10_000,
          interval: 20,
        });
      } finally {
        await stop();
      }
      expect(runs.length).toBeGreaterThan(0);
    });
  });
});
