import { type LogSink, silentLogger } from '../../../search-cluster/src/index.ts';
import type { Caller } from '../auth/roles.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import { AppError, badInput, notFound } from '../errors.ts';
import { parseImageId } from '../images/image-id.ts';
import { createImagesRepository } from '../images/images.repository.ts';
import { perceptualHash } from '../images/phash.ts';
import type { VectorWriter } from '../indexing/indexing.ports.ts';
import type { Blocklist } from '../search/blocklist.ts';
import { blobKeyOf } from '../upload/upload.service.ts';
import { createContentBlocklistRepository } from './content-blocklist.repository.ts';

export interface ModerationDeps {
  db: Database;
  blobs: BlobStore;
  blocklist: Blocklist;
  vectors: VectorWriter;
  modelVersion: () => string;
  /** Default: silent. */
  log?: Pick<LogSink, 'warn' | 'error'>;
}

/** Flag (moderators) and delete (owners): both take effect on the very next query. */
export function createModerationService(deps: ModerationDeps) {
  const images = createImagesRepository(deps.db);
  const log = deps.log ?? silentLogger;

  /** The stored pHash, or one computed from the blob for rows older than migration 0005. */
  async function phashOf(id: string, storageUrl: string): Promise<bigint | null> {
    const { rows } = await deps.db.query<{ phash: string | null }>(
      'SELECT phash::text AS phash FROM images WHERE id = $1',
      [id],
    );
    if (rows[0]?.phash) return BigInt.asUintN(64, BigInt(rows[0].phash));
    const blob = await deps.blobs.get(blobKeyOf(storageUrl)).catch(() => null);
    return blob ? (await perceptualHash(blob.bytes).catch(() => ({ hash: null }))).hash : null;
  }

  return {
    async flag(rawId: string, rawReason: string, caller: Caller) {
      const id = parseImageId(rawId);
      const reason = rawReason.trim();
      if (reason.length === 0 || reason.length > 500)
        throw badInput('Expected a reason of 1 to 500 characters');
      const [image] = await images.findByIds([id]);
      if (!image || image.deleted_at) throw notFound(`No image with id ${id}`);
      // the takedown follows the content: its bytes and its look are blocked too, for copies
      // already stored and for every later upload
      const phash = await phashOf(id, image.storage_url);
      const copies = await deps.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO safety_blocklist (image_id, reason, flagged_by) VALUES ($1, $2, $3)
           ON CONFLICT (image_id) DO UPDATE SET reason = EXCLUDED.reason, flagged_by = EXCLUDED.flagged_by`,
          [id, reason, caller.ownerId],
        );
        const blocked = createContentBlocklistRepository(tx);
        await blocked.block({
          sha256: image.sha256,
          phash,
          sourceImage: id,
          reason,
          flaggedBy: caller.ownerId,
        });
        return blocked.rejectCopies(id, image.sha256, phash);
      });
      // the record is written (and the safety epoch bumped); warm the set every query checks
      await deps.blocklist.add(id);
      const shardIds = [id, ...copies].map((x) => BigInt(x));
      await deps.vectors.remove(deps.modelVersion(), shardIds).catch(async (error) => {
        // search gates on the rows meanwhile; delete jobs retry the shard removal
        for (const copy of [id, ...copies]) await images.enqueueIndexJob(copy, 'delete');
        log.warn('shard removal of flagged content deferred', { image: id, error: String(error) });
      });
      return image;
    },

    async remove(rawId: string, caller: Caller) {
      const id = parseImageId(rawId);
      const [image] = await images.findByIds([id]);
      if (!image || image.deleted_at) throw notFound(`No image with id ${id}`);
      if (caller.role === 'user' && image.uploader_id !== caller.ownerId) {
        throw new AppError('FORBIDDEN', 'Only the uploader may delete this image');
      }
      await deps.db.transaction(async (tx) => {
        await tx.query(
          `UPDATE images SET deleted_at = now(), status = 'DELETED', updated_at = now() WHERE id = $1`,
          [id],
        );
        // a copy of these bytes from another uploader becomes the indexed one, unless the
        // content is blocked (those copies were REJECTED by the flag; the worker checks again)
        await tx.query(
          `INSERT INTO index_jobs (image_id, kind)
           SELECT id, 'index' FROM images WHERE duplicate_of = $1 AND deleted_at IS NULL AND status = 'INDEXED'
           ON CONFLICT DO NOTHING`,
          [id],
        );
        await tx.query(
          `UPDATE images SET duplicate_of = NULL, status = 'PENDING'
            WHERE duplicate_of = $1 AND deleted_at IS NULL AND status = 'INDEXED'`,
          [id],
        );
        // a tombstone, not a DELETE: shards replaying the table must see the removal
        await tx.query(
          `UPDATE embeddings SET deleted_at = now(), seq = DEFAULT WHERE image_id = $1 AND deleted_at IS NULL`,
          [id],
        );
      });
      // results already exclude it (the row says DELETED); now the shards and the blob
      try {
        await deps.vectors.remove(deps.modelVersion(), [BigInt(id)]);
      } catch (error) {
        // a delete job retries the shard removal; search gates on the row meanwhile
        await images.enqueueIndexJob(id, 'delete');
        log.warn('shard delete deferred', { image: id, error: String(error) });
      }
      if ((await images.countByStorageUrl(image.storage_url)) === 0) {
        await deps.blobs.delete(blobKeyOf(image.storage_url)).catch((error) => {
          log.error('blob delete failed', { image: id, error: String(error) });
        });
      }
      return { ...image, deleted_at: new Date(), status: 'DELETED' as const };
    },
  };
}
export type ModerationService = ReturnType<typeof createModerationService>;
