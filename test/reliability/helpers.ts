import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import type { TestApp } from '../support/test-app.ts';

export const SEARCH = `query Search($input: SearchInput!) {
  search(input: $input) { queryId partial hits { image { id status } } }
}`;
export const IMAGE = 'query ($id: ID!) { image(id: $id) { id status uploaderId storageUrl } }';
export const IMAGES = 'query ($ids: [ID!]!) { images(ids: $ids) { id status uploaderId } }';
export const FLAG =
  'mutation ($id: ID!) { flagImage(input: { imageId: $id, reason: "policy" }) { imageId } }';
export const DELETE = 'mutation ($id: ID!) { deleteImage(input: { imageId: $id }) { imageId } }';

export { bearer, keyFor } from '../support/keys.ts';

/** Uploads with the key of `owner` (the caller is the uploader); returns id and the status the upload answered. */
export async function uploadAs(t: TestApp, headers: Record<string, string>, owner: string, bytes: Buffer) {
  const { body } = await t.upload(bytes, {}, { headers });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  const { image } = (
    body.data as { uploadImage: { image: { id: string; status: string; uploaderId: string } } }
  ).uploadImage;
  if (image.uploaderId !== owner)
    throw new Error(`Expected the upload to belong to ${owner}, not ${image.uploaderId}`);
  return image;
}

export async function drain(worker: IndexingWorker) {
  for (let i = 0; i < 50; i++) if ((await worker.runBatch()).length === 0) return;
}

export async function gqlOk<T>(t: TestApp, query: string, variables: Record<string, unknown>, headers = {}) {
  const { body } = await t.gql<T>(query, variables, headers);
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data as T;
}

/** Every id any search path returns for a broad query (the test corpora are small). */
export async function searchIds(t: TestApp, input: Record<string, unknown>, headers = {}) {
  const data = await gqlOk<{ search: { hits: { image: { id: string } }[] } }>(
    t,
    SEARCH,
    { input: { limit: 100, ...input } },
    headers,
  );
  return data.search.hits.map((h) => h.image.id);
}

export async function statusOf(t: TestApp, id: string) {
  const { rows } = await t.services.db.query<{ status: string }>('SELECT status FROM images WHERE id = $1', [
    id,
  ]);
  return rows[0]?.status;
}
