import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { type BlobStore, blobKeyFor } from './blob-store.ts';

/** Keys no store may accept: each would escape the store's root or name something odd. */
export const INVALID_KEYS = [
  '',
  '../escape.png',
  'a/../../escape.png',
  'a/./b.png',
  '/etc/passwd',
  'a//b.png',
  'a/b/',
  'a\\..\\b.png',
  '.hidden',
  'a/.b.png.type',
  'a b.png',
  'a/%2e%2e/b.png',
  'x'.repeat(513),
];

const sha = () => randomBytes(32).toString('hex');

/**
 * The behaviour every BlobStore must have. `store()` returns the store under test (created in
 * the caller's beforeAll).
 */
export function describeBlobStoreContract(name: string, store: () => BlobStore): void {
  describe(`${name} (BlobStore contract)`, () => {
    it('returns what was put, with its content type', async () => {
      const key = blobKeyFor(sha(), 'png');
      const bytes = randomBytes(1024);
      await store().put(key, bytes, 'image/png');
      const blob = await store().get(key);
      expect(blob?.contentType).toBe('image/png');
      expect(blob?.bytes.equals(bytes)).toBe(true);
      expect(await store().exists(key)).toBe(true);
    });

    it('keeps a 3 MB binary blob byte for byte', async () => {
      const key = blobKeyFor(sha(), 'jpg');
      const bytes = randomBytes(3 * 1024 * 1024);
      await store().put(key, bytes, 'image/jpeg');
      expect((await store().get(key))?.bytes.equals(bytes)).toBe(true);
    });

    it('keeps an empty blob', async () => {
      const key = blobKeyFor(sha(), 'bin');
      await store().put(key, Buffer.alloc(0), 'application/octet-stream');
      expect((await store().get(key))?.bytes.length).toBe(0);
    });

    it('answers null and false for a missing blob', async () => {
      const key = blobKeyFor(sha(), 'png');
      expect(await store().get(key)).toBeNull();
      expect(await store().exists(key)).toBe(false);
    });

    it('replaces a blob put twice under one key', async () => {
      const key = blobKeyFor(sha(), 'webp');
      await store().put(key, Buffer.from('first'), 'image/webp');
      await store().put(key, Buffer.from('second'), 'image/avif');
      const blob = await store().get(key);
      expect(blob?.bytes.toString()).toBe('second');
      expect(blob?.contentType).toBe('image/avif');
    });

    it('survives concurrent puts of the same content-addressed blob', async () => {
      const key = blobKeyFor(sha(), 'png');
      const bytes = randomBytes(64 * 1024);
      await Promise.all(Array.from({ length: 8 }, () => store().put(key, bytes, 'image/png')));
      expect((await store().get(key))?.bytes.equals(bytes)).toBe(true);
    });

    it('deletes a blob, and deleting a missing one is not an error', async () => {
      const key = blobKeyFor(sha(), 'gif');
      await store().put(key, Buffer.from('gif'), 'image/gif');
      await store().delete(key);
      expect(await store().exists(key)).toBe(false);
      expect(await store().get(key)).toBeNull();
      await expect(store().delete(key)).resolves.toBeUndefined();
    });

    it('keeps blobs under different keys apart', async () => {
      const digest = sha();
      await store().put(blobKeyFor(digest, 'png'), Buffer.from('png'), 'image/png');
      await store().put(blobKeyFor(digest, 'jpg'), Buffer.from('jpg'), 'image/jpeg');
      await store().delete(blobKeyFor(digest, 'png'));
      expect((await store().get(blobKeyFor(digest, 'jpg')))?.bytes.toString()).toBe('jpg');
    });

    it.each(INVALID_KEYS)('refuses the key %j in every operation', async (key) => {
      for (const attempt of [
        () => store().put(key, Buffer.from('x'), 'text/plain'),
        () => store().get(key),
        () => store().exists(key),
        () => store().delete(key),
      ]) {
        const error = await attempt().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe('BAD_USER_INPUT');
      }
    });

    it('passes its health check', async () => {
      await expect(store().check()).resolves.toBeUndefined();
    });
  });
}
