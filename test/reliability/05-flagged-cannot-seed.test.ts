import { describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makePatternImage } from '../fixtures/images/make-patterns.ts';
import { backends } from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';
import { drain, FLAG, gqlOk, keyFor, SEARCH, statusOf, uploadAs } from './helpers.ts';

/** Issue 10 item 5: a flagged or rejected image cannot seed a search. */
describe.each(backends)('a flagged or rejected image cannot seed a search ($name)', ({ create }) => {
  let t: TestApp;
  let worker: IndexingWorker;

  useTestApps(
    create,
    async (open) => {
      t = await open({}, { nsfw: false });
      worker = await t.services.createWorker();
    },
    120_000,
  );

  const seed = async (imageId: string, headers = {}) =>
    (await t.gql(SEARCH, { input: { imageId } }, headers)).body;

  it('answers NOT_FOUND for a flagged image, its duplicate, and a copy rejected as blocked content', async () => {
    const mod = await keyFor(t, 'moderator', 'mo');
    const ann = await keyFor(t, 'user', 'ann');
    const bob = await keyFor(t, 'user', 'bob');
    const bytes = await makePatternImage(501);
    const flagged = await uploadAs(t, ann, 'ann', bytes);
    const fine = await uploadAs(t, ann, 'ann', await makePatternImage(502));
    await drain(worker);
    const duplicate = await uploadAs(t, bob, 'bob', bytes);
    await drain(worker);
    expect((await seed(fine.id)).errors).toBeUndefined();
    expect((await seed(flagged.id)).errors).toBeUndefined(); // seeds while it is public

    await gqlOk(t, FLAG, { id: flagged.id }, mod);
    for (const [id, headers] of [
      [flagged.id, {}],
      [flagged.id, ann], // not even its uploader
      [flagged.id, mod],
      [duplicate.id, {}],
      [duplicate.id, bob],
    ] as const) {
      const body = await seed(id, headers);
      expect(body.data).toBeFalsy();
      expect(body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect(await statusOf(t, duplicate.id)).toBe('REJECTED');
    expect((await seed(fine.id)).errors).toBeUndefined();
  }, 60_000);
});
