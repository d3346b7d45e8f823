import { randomBytes, randomUUID } from 'node:crypto';
import { createYoga } from 'graphql-yoga';
import { type ApiKeysService, keyFromHeaders } from '../../api/src/auth/api-keys.service.ts';
import type { RequestContext, Services } from '../../api/src/context.ts';
import type { Database } from '../../api/src/db/database.ts';
import type { FeedbackServices } from '../../api/src/feedback/create-feedback-services.ts';
import type { QueryLogEntry } from '../../api/src/feedback/query-log.ts';
import { createImageLoaders } from '../../api/src/images/images.loaders.ts';
import { createImagesRepository } from '../../api/src/images/images.repository.ts';
import { maskError } from '../../api/src/plugins/mask-error.ts';
import { schema } from '../../api/src/schema.ts';
import { silentLogger } from '../../search-cluster/src/index.ts';
import { postGraphQL } from './post-graphql.ts';

/**
 * The real schema and error masking over only what feedback needs: the full createServices also
 * starts the encoder and the shards, which the feedback and click tests have no use for.
 */
export function createFeedbackApp(db: Database, apiKeys: ApiKeysService, feedback: FeedbackServices) {
  const services = {
    db,
    apiKeys,
    config: { edgeSigningKey: null },
    policy: { allowAnonymousUploads: false },
    blobUrl: (storageUrl: string) => storageUrl,
    ...feedback,
  } as unknown as Services;
  const images = createImagesRepository(db);
  const yoga = createYoga<Record<string, never>, RequestContext>({
    schema,
    maskedErrors: { maskError },
    logging: false,
    context: async ({ request }) => ({
      request,
      caller: await apiKeys.resolve(keyFromHeaders(request.headers)),
      loaders: createImageLoaders(images),
      log: silentLogger,
      services,
    }),
  });
  return <T>(query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
    postGraphQL<T>(
      (url, init) => yoga.fetch(url, init),
      'http://pixelfind.test/graphql',
      query,
      variables,
      headers,
    );
}

/** An INDEXED image row of its own bytes (deleted when asked); returns its id. */
export async function insertIndexedImage(db: Database, { deleted = false } = {}): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, sha256, status, deleted_at)
     VALUES ('blob://seed/x.jpg', 'image/jpeg', 10, 8, 8, 'seed', $1, 'INDEXED', $2) RETURNING id::text AS id`,
    [randomBytes(32).toString('hex'), deleted ? new Date() : null],
  );
  return rows[0]!.id;
}

/** What search does: log the query (not yet written) and hand out its id. */
export function logSearch(
  feedback: FeedbackServices,
  resultIds: string[],
  entry: Partial<QueryLogEntry> & Pick<QueryLogEntry, 'apiKeyId' | 'callerRef'>,
): string {
  const id = randomUUID();
  feedback.queryLog.record({
    id,
    queryText: 'red car',
    imageRef: null,
    fusion: null,
    textWeight: null,
    filters: {},
    resultIds,
    modelVersion: 'tiny-clip-v1',
    rankerVersion: 'r1',
    latencyMs: 7,
    partial: false,
    createdAt: new Date(),
    ...entry,
  });
  return id;
}
