import { badInput, notFound } from '../errors.ts';
import type { ImageRecord } from '../images/image.types.ts';
import { parseImageId } from '../images/image-id.ts';
import type { ImagesRepository } from '../images/images.repository.ts';
import type { FeedbackRepository } from './feedback.repository.ts';
import { parseQueryId, parseUserId } from './feedback-input.ts';
import type { QueryLog } from './query-log.ts';

export interface FeedbackServiceOptions {
  repository: FeedbackRepository;
  images: ImagesRepository;
  /** The log this process writes search rows to: a click may arrive before its row is flushed. */
  queryLog: Pick<QueryLog, 'isPending' | 'flush'>;
  /**
   * How long a click for a query this process has never seen waits for another process's log
   * flush before the query counts as unknown. 0 in single-node mode (every search is logged
   * here); about two flush intervals in cluster mode. Default 0.
   */
  lateQueryWaitMs?: number;
}

export interface ClickOutcome {
  /** 0-based index of the image in the query's results. */
  position: number;
}

export interface SaveOutcome {
  image: ImageRecord;
  /** False when the user had already saved the image (saving is idempotent). */
  created: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Clicks and saves: the raw engagement events that `aggregateImageStats` turns into image_stats. */
export function createFeedbackService({
  repository: repo,
  images,
  queryLog,
  lateQueryWaitMs = 0,
}: FeedbackServiceOptions) {
  /** True when waiting may have made the query's row appear, so the click is worth trying again. */
  async function awaitQueryRow(queryId: string): Promise<boolean> {
    if (queryLog.isPending(queryId)) {
      await queryLog.flush();
      return true;
    }
    if (lateQueryWaitMs > 0 && !(await repo.queryExists(queryId))) {
      await sleep(lateQueryWaitMs);
      return true;
    }
    return false;
  }

  return {
    /**
     * Records a click on a result. Only an image the query showed can be clicked; the position
     * is where it was shown. Every call is a click: clicking the same result twice counts twice,
     * as a user who comes back to a result did engage twice (de-duplicate in analysis if needed).
     */
    async recordClick(rawQueryId: string, rawImageId: string): Promise<ClickOutcome> {
      const queryId = parseQueryId(rawQueryId);
      const imageId = parseImageId(rawImageId, 'imageId');

      let position = await repo.insertClickIfShown(queryId, imageId);
      if (position === null && (await awaitQueryRow(queryId))) {
        position = await repo.insertClickIfShown(queryId, imageId);
      }
      if (position !== null) return { position };

      const shown = await repo.queryShowed(queryId, imageId);
      if (shown === null) throw notFound(`No search query with id ${queryId}`);
      if (!shown) throw badInput(`Image ${imageId} was not shown by query ${queryId}`);
      throw notFound(`No image with id ${imageId}`);
    },

    /** Saves an image for a user; saving it again changes nothing. A deleted image cannot be saved. */
    async saveImage(rawImageId: string, rawUserId: string): Promise<SaveOutcome> {
      const imageId = parseImageId(rawImageId, 'imageId');
      const userId = parseUserId(rawUserId);

      const [image] = await images.findByIds([imageId]);
      if (!image || image.deleted_at) throw notFound(`No image with id ${imageId}`);
      const created = await repo.insertSave(imageId, userId);
      return { image, created };
    },
  };
}
export type FeedbackService = ReturnType<typeof createFeedbackService>;
