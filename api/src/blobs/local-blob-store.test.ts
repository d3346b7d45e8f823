import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeBlobStoreContract } from './blob-store.contract.ts';
import { blobKeyFor } from './blob-store.ts';
import { createBlobStore } from './create-blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';

let root: string;
let store: LocalBlobStore;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pixelfind-blobs-'));
  store = new LocalBlobStore(path.join(root, 'blobs'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describeBlobStoreContract('LocalBlobStore', () => store);

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('LocalBlobStore', () => {
  const digest = 'ab'.repeat(32);

  it('writes the blob at its key under the directory, with no temp files left behind', async () => {
    const key = blobKeyFor(digest, 'png');
    await store.put(key, Buffer.from('png bytes'), 'image/png');
    const files = await filesUnder(store.dir);
    expect(files).toContain(`ab/ab/${digest}.png`);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('never writes outside its directory', async () => {
    await expect(store.put('../outside.png', Buffer.from('x'), 'image/png')).rejects.toThrow(/blob key/);
    expect(await readdir(root)).toEqual(['blobs']);
  });

  it('serves blobs through the API (no public URL)', () => {
    expect(store.publicUrl(blobKeyFor(digest, 'png'))).toBeNull();
  });

  it('fails its health check when the directory cannot be created', async () => {
    const file = path.join(root, 'not-a-directory');
    await writeFile(file, 'x');
    await expect(new LocalBlobStore(path.join(file, 'blobs')).check()).rejects.toThrow();
  });

  it('is what createBlobStore builds for kind local', () => {
    const created = createBlobStore({ kind: 'local', dir: path.join(root, 'blobs') });
    expect(created).toBeInstanceOf(LocalBlobStore);
  });
});

describe('blobKeyFor', () => {
  it('fans out by the first two bytes of the digest', () => {
    const digest = `0123${'f'.repeat(60)}`;
    expect(blobKeyFor(digest, 'jpg')).toBe(`01/23/${digest}.jpg`);
  });

  it.each([
    ['short digest', 'abc', 'png'],
    ['uppercase digest', 'A'.repeat(64), 'png'],
    ['dotted extension', 'a'.repeat(64), '.png'],
    ['traversal in extension', 'a'.repeat(64), '/../x'],
  ])('refuses a %s', (_name, digest, ext) => {
    expect(() => blobKeyFor(digest, ext)).toThrow(/Expected/);
  });
});
