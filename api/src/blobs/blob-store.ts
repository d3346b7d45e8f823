import { badInput } from '../errors.ts';

/** Where image bytes live: a local directory in single-node mode, an S3-compatible bucket in cluster mode. */
export interface BlobStore {
  /** Stores `bytes` under `key`, replacing what was there. Readers never see a partial blob. */
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The blob and the content type it was stored with, or null when there is none. */
  get(key: string): Promise<{ bytes: Buffer; contentType: string } | null>;
  /** Removes the blob; removing a missing blob is not an error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** A URL clients can fetch the blob from directly, or null: serve it through the API at /blobs/:key. */
  publicUrl(key: string): string | null;
  /** Throws when the store cannot be used (directory not writable, bucket unreachable); for /readyz. */
  check(): Promise<void>;
}

export type BlobStoreConfig =
  | {
      kind: 'local';
      /** Directory the blobs are written under (DATA_DIR/blobs). Created when missing. */
      dir: string;
    }
  | {
      kind: 's3';
      /** S3-compatible endpoint (MinIO, R2, ...); unset means AWS S3 itself. */
      endpoint?: string;
      bucket: string;
      region: string;
      /** Unset means the AWS SDK's default credential chain. */
      accessKeyId?: string;
      secretAccessKey?: string;
      /** Base URL the bucket is publicly readable at; unset means blobs are served through the API. */
      publicBaseUrl?: string;
      /** Path-style addressing (endpoint/bucket/key). Default: true when `endpoint` is set. */
      forcePathStyle?: boolean;
    };

// Segments start with a letter or digit, so `.`, `..` and hidden files can never be named, and
// the local store can keep its own files (temp files, content types) as dot-files beside a blob.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_KEY_LENGTH = 512;

/** True when `key` is a relative path of safe segments (no traversal, no absolute paths). */
export function isValidBlobKey(key: string): boolean {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= MAX_KEY_LENGTH &&
    key.split('/').every((segment) => SEGMENT.test(segment))
  );
}

/** Throws BAD_USER_INPUT unless `isValidBlobKey(key)`: keys may come from a URL (/blobs/:key). */
export function assertValidBlobKey(key: string): void {
  if (!isValidBlobKey(key)) {
    throw badInput(
      `Expected a blob key of '/'-separated segments of letters, digits, '.', '_' or '-' (each starting with a letter or digit) but received ${JSON.stringify(key)}`,
    );
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const EXT = /^[a-z0-9]{1,10}$/;

/**
 * The content-addressed key for a blob: `ab/cd/<sha256>.<ext>`. The two fan-out levels keep
 * directories small in the local store and spread S3 key prefixes.
 */
export function blobKeyFor(sha256: string, ext: string): string {
  if (!SHA256_HEX.test(sha256)) {
    throw new Error(`Expected a lowercase hex sha256 for sha256 but received ${JSON.stringify(sha256)}`);
  }
  if (!EXT.test(ext))
    throw new Error(
      `Expected a lowercase extension without a dot for ext but received ${JSON.stringify(ext)}`,
    );
  return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}.${ext}`;
}
