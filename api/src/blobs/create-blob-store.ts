import type { BlobStore, BlobStoreConfig } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

/** The blob store the configuration names: a local directory, or an S3-compatible bucket. */
export function createBlobStore(config: BlobStoreConfig): BlobStore {
  switch (config.kind) {
    case 'local':
      return new LocalBlobStore(config.dir);
    case 's3': {
      const { kind: _kind, ...s3 } = config;
      return new S3BlobStore(s3);
    }
  }
}
