import { type LogSink, silentLogger } from '../../../search-cluster/src/index.ts';
import { authorizeDelete } from '../auth/authorize.ts';
import type { Caller } from '../auth/roles.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import { badInput, notFound } from '../errors.ts';
import { parseImageId } from '../images/image-id.ts';
import type { ImagesRepository } from '../images/images.repository.ts';
import { perceptualHash } from '../images/phash.ts';
import type { VectorWriter } from '../indexing/indexing.ports.ts';
import type { SafetyEpoch } from '../search/safety-epoch.ts';
import { blobKeyOf } from '../upload/upload.service.ts';
import type { ModerationRepository } from './moderation.repository.ts';

export interface ModerationDeps {
  images: ImagesRepository;
  moderation: ModerationRepository;
  blobs: BlobStore;
  safetyEpoch: SafetyEpoch;
  vectors: VectorWriter;
  /** Every model version whose index holds the image (the lifecycle's warm versions). */
  modelVersions: () => string[];
  /** Default: silent. */
  log?: Pick<LogSink, 'warn' | 'error'>;
}

/** Flag (moderators) and delete (owners): both take effect on the very next query. */
export function createModerationService(deps: ModerationDeps) {
  const { images, moderation } = deps;
  const log = deps.log ?? silentLogger;

  /** The stored pHash, or one computed from the blob for rows older than migration 0005. */
  async function phashOf(id: string, storageUrl: string): Promise<bigint | null> {
    const stored = await moderation.storedPhash(id);
    if (stored !== null) return stored;
    const blob = await deps.blobs.get(blobKeyOf(storageUrl)).catch(() => null);
    return blob ? (await perceptualHash(blob.bytes).catch(() => ({ hash: null }))).hash : null;
  }

  async function removeEverywhere(ids: bigint[]): Promise<void> {
    for (const version of deps.modelVersions()) await deps.vectors.remove(version, ids);
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
      const copies = await moderation.flag({
        id,
        reason,
        flaggedBy: caller.ownerId,
        sha256: image.sha256,
        phash,
      });
      // the record is written and the safety epoch bumped: the next answer tells the edge
      await deps.safetyEpoch.refresh();
      const shardIds = [id, ...copies].map((x) => BigInt(x));
      await removeEverywhere(shardIds).catch(async (error) => {
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
      authorizeDelete(caller, image);
      await moderation.softDelete(id);
      // results already exclude it (the row says DELETED); now the shards and the blob
      try {
        await removeEverywhere([BigInt(id)]);
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
