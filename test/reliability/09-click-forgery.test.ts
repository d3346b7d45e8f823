// Issue 10 item 9: 60 anonymous clicks on someone else's queryId moved an image from rank 29 to
// rank 0. A click now counts once per (query, image), only from the caller that ran the query,
// only for an image still live, and each caller's clicks are rate limited.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeysRepository } from '../../api/src/auth/api-keys.repository.ts';
import { type ApiKeysService, createApiKeysService } from '../../api/src/auth/api-keys.service.ts';
import { callerRefOf } from '../../api/src/feedback/caller-ref.ts';
import {
  createFeedbackServices,
  type FeedbackServices,
} from '../../api/src/feedback/create-feedback-services.ts';
import { catchUpImageStats } from '../../api/src/feedback/stats-aggregation.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createFeedbackApp, insertIndexedImage, logSearch } from '../support/feedback-app.ts';

const CLICK = `mutation($queryId: ID!, $imageId: ID!) { recordClick(input: { queryId: $queryId, imageId: $imageId }) { ok position } }`;
const CLICKS_PER_MINUTE = 80;

describe.each(backends)('clicks cannot be forged into ranking (issue 10 item 9, $name)', ({ create }) => {
  let backend: Backend;
  let apiKeys: ApiKeysService;
  let feedback: FeedbackServices;
  let gql: ReturnType<typeof createFeedbackApp>;
  let owner: { key: string; id: string };
  let stranger: { key: string; id: string };

  beforeAll(async () => {
    backend = await create();
    apiKeys = createApiKeysService(createApiKeysRepository(backend.db), backend.cache);
    feedback = createFeedbackServices(backend.db, { clicksPerMinute: CLICKS_PER_MINUTE });
    gql = createFeedbackApp(backend.db, apiKeys, feedback);
    owner = await apiKeys.create('user', 'olga');
    stranger = await apiKeys.create('user', 'mallory');
  });
  afterAll(async () => {
    await feedback?.queryLog.close();
    await backend?.dispose();
  });

  const insertImage = () => insertIndexedImage(backend.db);

  /** A search by the owner's key, as the search service logs it. */
  const search = (resultIds: string[], callerRef = `key:${owner.id}`) =>
    logSearch(feedback, resultIds, { apiKeyId: owner.id, callerRef, latencyMs: 3 });

  const click = (queryId: string, imageId: string, key?: string) =>
    gql<{ recordClick: { position: number } }>(CLICK, { queryId, imageId }, key ? { 'x-api-key': key } : {});
  const clicksOn = async (imageId: string) =>
    (
      await backend.db.query<{ n: number }>('SELECT count(*)::int AS n FROM clicks WHERE image_id = $1', [
        imageId,
      ])
    ).rows[0]!.n;

  it("60 anonymous clicks and 60 from another key on the owner's queryId count nothing", async () => {
    const shown = await Promise.all(Array.from({ length: 30 }, () => insertImage()));
    const target = shown[29]!;
    const queryId = search(shown);
    for (let i = 0; i < 60; i++) {
      const anonymous = await click(queryId, target);
      expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    for (let i = 0; i < 60; i++) {
      const other = await click(queryId, target, stranger.key);
      expect(other.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect(await clicksOn(target)).toBe(0);
    await catchUpImageStats(backend.db);
    const stats = await backend.db.query<{ clicks: number }>(
      'SELECT clicks::int AS clicks FROM image_stats WHERE image_id = $1',
      [target],
    );
    expect(stats.rows[0]?.clicks ?? 0).toBe(0);
  });

  it("the owner's repeated clicks on one result count once, at the position shown", async () => {
    const shown = await Promise.all(Array.from({ length: 30 }, () => insertImage()));
    const queryId = search(shown);
    for (let i = 0; i < 20; i++) {
      const own = await click(queryId, shown[29]!, owner.key);
      expect(own.body.errors).toBeUndefined();
      expect(own.body.data?.recordClick.position).toBe(29);
    }
    expect(await clicksOn(shown[29]!)).toBe(1);
  });

  it('a click on a result flagged or deleted since the search counts nothing', async () => {
    const [flagged, deleted] = await Promise.all([insertImage(), insertImage()]);
    const queryId = search([flagged!, deleted!]);
    await backend.db.query(`INSERT INTO safety_blocklist (image_id, reason) VALUES ($1, 'unsafe')`, [
      flagged,
    ]);
    await backend.db.query(`UPDATE images SET deleted_at = now(), status = 'DELETED' WHERE id = $1`, [
      deleted,
    ]);
    for (const id of [flagged!, deleted!]) {
      const own = await click(queryId, id, owner.key);
      expect(own.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(await clicksOn(id)).toBe(0);
    }
  });

  it('an image the query did not show cannot be clicked', async () => {
    const [shown, other] = await Promise.all([insertImage(), insertImage()]);
    const queryId = search([shown!]);
    const own = await click(queryId, other!, owner.key);
    expect(own.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await clicksOn(other!)).toBe(0);
  });

  it('an answer the edge served from its cache is its own query, clickable only by its client', async () => {
    const [image] = await Promise.all([insertImage()]);
    const source = search([image!], 'anonymous');
    const served = randomUUID();
    const client = callerRefOf({ role: 'anonymous', ownerId: null, keyId: null }, '203.0.113.5', null);
    expect(await feedback.feedback.recordEdgeImpression(source, served, client)).toBe(true);
    await expect(feedback.feedback.recordClick(served, image!, 'addr:someone-else')).rejects.toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    expect((await feedback.feedback.recordClick(served, image!, client)).position).toBe(0);
    expect(await clicksOn(image!)).toBe(1);
    // the copy counts as an impression of its own
    const rows = await backend.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM search_queries WHERE $1::bigint = ANY (result_ids)',
      [image],
    );
    expect(rows.rows[0]!.n).toBe(2);
  });

  it('each caller may click a bounded number of times a minute: RATE_LIMITED past it', async () => {
    const shown = await Promise.all(Array.from({ length: 3 }, () => insertImage()));
    const limited = await apiKeys.create('user', 'clicker');
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < CLICKS_PER_MINUTE + 5; i++) {
      const queryId = search(shown, `key:${limited.id}`);
      const result = await click(queryId, shown[i % 3]!, limited.key);
      codes.push(result.body.errors?.[0]?.extensions?.code);
    }
    expect(codes.slice(0, CLICKS_PER_MINUTE).every((code) => code === undefined)).toBe(true);
    expect(codes.slice(CLICKS_PER_MINUTE)).toEqual(Array(5).fill('RATE_LIMITED'));
  });
});
