import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeBlobStoreContract } from './blob-store.contract.ts';
import { blobKeyFor } from './blob-store.ts';
import { createBlobStore } from './create-blob-store.ts';
import { S3BlobStore, type S3BlobStoreConfig } from './s3-blob-store.ts';

// s3rver: an S3-compatible server run in-process on a random port, storing under a temp dir.
// Its one account has the access key id S3RVER (secret S3RVER).
let dir: string;
let server: S3rver;
let config: S3BlobStoreConfig;
let store: S3BlobStore;
const others: S3BlobStore[] = [];

function otherStore(overrides: Partial<S3BlobStoreConfig>): S3BlobStore {
  const created = new S3BlobStore({ ...config, ...overrides });
  others.push(created);
  return created;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pixelfind-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const { port } = await server.run();
  config = {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    bucket: 'pixelfind-test',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
  };
  store = new S3BlobStore(config);
  await store.ensureBucket();
});

afterAll(async () => {
  // close the SDK's keep-alive sockets first, or the server waits for them
  for (const s of [store, ...others]) s?.destroy();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describeBlobStoreContract('S3BlobStore', () => store);

describe('S3BlobStore', () => {
  const key = blobKeyFor('cd'.repeat(32), 'png');

  it('stores blobs at their key in the bucket', async () => {
    await store.put(key, Buffer.from('png'), 'image/png');
    const direct = await fetch(`${config.endpoint}/${config.bucket}/${key}`);
    expect(direct.status).toBe(200);
    expect(direct.headers.get('content-type')).toBe('image/png');
  });

  it('serves blobs through the API unless a public base URL is set', () => {
    expect(store.publicUrl(key)).toBeNull();
    const open = otherStore({ publicBaseUrl: 'https://cdn.example.com/images/' });
    expect(open.publicUrl(key)).toBe(`https://cdn.example.com/images/${key}`);
  });

  it('creating the bucket twice is harmless', async () => {
    await expect(store.ensureBucket()).resolves.toBeUndefined();
  });

  it('fails its health check, and reads, when the bucket is missing', async () => {
    const missing = otherStore({ bucket: 'pixelfind-missing' });
    await expect(missing.check()).rejects.toThrow();
    await expect(missing.get(key)).rejects.toThrow(/bucket/i);
  });

  it('fails its health check with an unknown access key', async () => {
    // s3rver checks the access key id but does not verify SigV4 signatures, so a wrong secret
    // would pass here; a real S3 answers SignatureDoesNotMatch.
    const wrong = otherStore({ accessKeyId: 'NOT-A-KEY' });
    await expect(wrong.check()).rejects.toThrow();
  });

  it('is what createBlobStore builds for kind s3', () => {
    const created = createBlobStore({ kind: 's3', ...config });
    expect(created).toBeInstanceOf(S3BlobStore);
    others.push(created as S3BlobStore);
  });
});
