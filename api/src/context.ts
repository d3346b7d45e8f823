import type { ApiKeysService } from './auth/api-keys.service.ts';
import type { AuthPolicy, Caller } from './auth/roles.ts';
import type { BlobStore } from './blobs/blob-store.ts';
import type { Cache } from './cache/cache.ts';
import type { Config } from './config/config.ts';
import type { Database } from './db/database.ts';
import type { ImageLoaders } from './images/images.loaders.ts';
import type { UploadService } from './upload/upload.service.ts';

/** Process-wide dependencies, built once at start (see app.ts). */
export interface Services {
  config: Config;
  db: Database;
  cache: Cache;
  blobs: BlobStore;
  apiKeys: ApiKeysService;
  upload: UploadService;
  policy: AuthPolicy;
  /** Absolute URL a client can GET the image bytes from. */
  blobUrl(storageUrl: string): string;
}

/** Per-request state: the caller and fresh DataLoaders. */
export interface RequestContext {
  request: Request;
  caller: Caller;
  loaders: ImageLoaders;
  services: Services;
}
