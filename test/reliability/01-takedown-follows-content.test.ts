import { describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import {
  DODGES,
  describeTransform,
  makePatternImage,
  transformImage,
} from '../fixtures/images/make-patterns.ts';
import { backends } from '../support/backends.ts';
import { keysFor } from '../support/keys.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';
import { DELETE, drain, FLAG, gqlOk, searchIds, statusOf, uploadAs } from './helpers.ts';

/** Issue 10 item 1: a takedown blocks the content (exact bytes and look), not just the row. */
describe.each(backends)('a takedown follows the content ($name)', ({ create }) => {
  let t: TestApp;
  let worker: IndexingWorker;
  let keys: Record<'ann' | 'bob' | 'carl' | 'mod', Record<string, string>>;

  useTestApps(
    create,
    async (open) => {
      t = await open({}, { nsfw: false, worker: { backoffBaseSeconds: 0 } });
      worker = await t.services.createWorker();
      keys = await keysFor(t, { ann: 'user', bob: 'user', carl: 'user', mod: 'moderator' });
    },
    120_000,
  );

  const flagThenDelete = async (id: string, owner: Record<string, string>) => {
    await gqlOk(t, FLAG, { id }, keys.mod);
    await gqlOk(t, DELETE, { id }, owner);
  };

  it('the owner deletes a flagged image and re-uploads the same file: REJECTED, never in search', async () => {
    const bytes = await makePatternImage(101);
    const first = await uploadAs(t, keys.ann, 'ann', bytes);
    await drain(worker);
    expect(await statusOf(t, first.id)).toBe('INDEXED');
    expect(await searchIds(t, { text: 'red' })).toContain(first.id);
    await flagThenDelete(first.id, keys.ann);

    const again = await uploadAs(t, keys.ann, 'ann', bytes);
    expect(again.id).not.toBe(first.id);
    expect(again.status).toBe('REJECTED');
    await drain(worker);
    expect(await statusOf(t, again.id)).toBe('REJECTED');
    expect(await searchIds(t, { text: 'red' })).not.toContain(again.id);
  }, 60_000);

  it("another user's copy of flagged bytes is taken down and never promoted when the original is deleted", async () => {
    const bytes = await makePatternImage(102);
    const original = await uploadAs(t, keys.ann, 'ann', bytes);
    await drain(worker);
    const copy = await uploadAs(t, keys.bob, 'bob', bytes);
    await drain(worker);
    expect(await statusOf(t, copy.id)).toBe('INDEXED'); // a duplicate_of the original
    await flagThenDelete(original.id, keys.ann);
    await drain(worker);
    expect(await statusOf(t, copy.id)).toBe('REJECTED');
    const { rows } = await t.services.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM embeddings WHERE image_id = $1 AND deleted_at IS NULL`,
      [copy.id],
    );
    expect(rows[0]!.n).toBe(0);
    expect(await searchIds(t, { text: 'red' })).not.toContain(copy.id);
    expect(await searchIds(t, { text: 'red' })).not.toContain(original.id);
  }, 60_000);

  it('re-encoded, resized and slightly cropped copies are REJECTED at upload; unrelated images are not', async () => {
    const bytes = await makePatternImage(103, { width: 320, height: 200 });
    const original = await uploadAs(t, keys.ann, 'ann', bytes);
    await drain(worker);
    await flagThenDelete(original.id, keys.ann);
    const dodges = DODGES.filter((d) => !describeTransform(d).includes('5%'));
    for (const dodge of dodges) {
      const copy = await uploadAs(t, keys.carl, 'carl', await transformImage(bytes, dodge));
      expect({ dodge: describeTransform(dodge), status: copy.status }).toEqual({
        dodge: describeTransform(dodge),
        status: 'REJECTED',
      });
    }
    const unrelated = await uploadAs(
      t,
      keys.carl,
      'carl',
      await makePatternImage(104, { width: 320, height: 200 }),
    );
    expect(unrelated.status).toBe('PENDING');
    await drain(worker);
    expect(await statusOf(t, unrelated.id)).toBe('INDEXED');
  }, 120_000);

  it('a look-alike queued before the flag is taken down by the flag and rejected by the worker', async () => {
    const bytes = await makePatternImage(105);
    const original = await uploadAs(t, keys.ann, 'ann', bytes);
    await drain(worker);
    const lookalike = await uploadAs(
      t,
      keys.bob,
      'bob',
      await transformImage(bytes, { kind: 'jpeg', quality: 60 }),
    );
    expect(lookalike.status).toBe('PENDING');
    await gqlOk(t, FLAG, { id: original.id }, keys.mod);
    await drain(worker);
    expect(await statusOf(t, lookalike.id)).toBe('REJECTED');
    expect(await searchIds(t, { text: 'red' })).not.toContain(lookalike.id);
  }, 60_000);
});
