import path from 'node:path';
import { createApiKeysRepository } from './auth/api-keys.repository.ts';
import { createApiKeysService } from './auth/api-keys.service.ts';
import { createBlobStore } from './blobs/create-blob-store.ts';
import type { BlobStore } from './blobs/blob-store.ts';
import type { Cache } from './cache/cache.ts';
import { createCache } from './cache/create-cache.ts';
import type { Config } from './config/config.ts';
import type { Services } from './context.ts';
import { createDatabase } from './db/create-database.ts';
import type { Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { blobKeyOf, createUploadService } from './upload/upload.service.ts';

export interface ServiceOverrides {
  db?: Database;
  cache?: Cache;
  blobs?: BlobStore;
}

/** Builds the process-wide dependencies from configuration; adapters are picked here only. */
export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const db = overrides.db ?? (await createDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  await migrate(db);
  const cache = overrides.cache ?? createCache({ redisUrl: config.redisUrl });
  const blobs =
    overrides.blobs ??
    (config.blobs.kind === 'local'
      ? createBlobStore({ kind: 'local', dir: config.blobs.dir ?? path.join(config.dataDir, 'blobs') })
      : createBlobStore(config.blobs));
  const apiKeys = createApiKeysService(createApiKeysRepository(db), cache);
  return {
    config,
    db,
    cache,
    blobs,
    apiKeys,
    upload: createUploadService({ db, blobs, limits: config.upload }),
    policy: { allowAnonymousUploads: config.allowAnonymousUploads },
    blobUrl(storageUrl) {
      const key = blobKeyOf(storageUrl);
      return blobs.publicUrl(key) ?? `${config.publicUrl}/blobs/${key.split('/').map(encodeURIComponent).join('/')}`;
    },
  };
}

export async function closeServices(services: Services): Promise<void> {
  await services.cache.close();
  await services.db.close();
}
