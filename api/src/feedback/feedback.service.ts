import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, badInput, notFound } from '../errors.ts';
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
  /** Clicks one caller may record per minute in this process; past it RATE_LIMITED (429). Default 60. */
  clicksPerMinute?: number;
  /**
   * Told each counted engagement event: a click or an edge-served search with the versions of
   * its query, a save with null (no query: the versions serving now apply). Default: nothing.
   */
  onEngagement?: (kind: 'searches' | 'clicks' | 'saves', versions: EngagementVersions | null) => void;
}

export interface EngagementVersions {
  modelVersion: string;
  rankerVersion: string;
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
  clicksPerMinute = 60,
  onEngagement = () => {},
}: FeedbackServiceOptions) {
  const clickLimiter = new RateLimiterMemory({ points: clicksPerMinute, duration: 60 });

  async function limitClicks(callerRef: string): Promise<void> {
    try {
      await clickLimiter.consume(callerRef);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError('RATE_LIMITED', `Too many clicks; retry in ${retryAfter} s`, { retryAfter });
    }
  }

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
     * Records a click on a result, for ranking. It counts only when `callerRef` ran the query
     * (see callerRefOf), the query showed the image, and the image is still live; and once per
     * (query, image): clicking again answers the same position and counts nothing. Each caller
     * may click `clicksPerMinute` times a minute.
     */
    async recordClick(rawQueryId: string, rawImageId: string, callerRef: string): Promise<ClickOutcome> {
      const queryId = parseQueryId(rawQueryId);
      const imageId = parseImageId(rawImageId, 'imageId');
      await limitClicks(callerRef);

      let inserted = await repo.insertClickIfShown(queryId, imageId, callerRef);
      if (inserted === null && (await awaitQueryRow(queryId))) {
        inserted = await repo.insertClickIfShown(queryId, imageId, callerRef);
      }
      if (inserted !== null) {
        onEngagement('clicks', inserted);
        return { position: inserted.position };
      }

      const refusal = await repo.clickRefusal(queryId, imageId);
      // another caller's query looks like no query at all: ids are not an oracle
      if (refusal === null || refusal.callerRef !== callerRef) {
        throw notFound(`No search query with id ${queryId}`);
      }
      if (!refusal.shown) throw badInput(`Image ${imageId} was not shown by query ${queryId}`);
      if (refusal.clickedPosition !== null) return { position: refusal.clickedPosition };
      throw notFound(`No image with id ${imageId}`);
    },

    /**
     * Logs an answer the edge served from its cache as its own query: `queryId` (minted by the
     * edge) shows what `sourceQueryId` showed, run by `callerRef`. False when the source is unknown.
     */
    async recordEdgeImpression(rawSourceId: string, rawQueryId: string, callerRef: string): Promise<boolean> {
      const sourceId = parseQueryId(rawSourceId);
      const queryId = parseQueryId(rawQueryId);
      let copied = await repo.copyQuery(sourceId, queryId, callerRef);
      if (copied === null && (await awaitQueryRow(sourceId))) {
        copied = await repo.copyQuery(sourceId, queryId, callerRef);
      }
      if (copied !== null) onEngagement('searches', copied);
      return copied !== null;
    },

    /** Saves an image for a user; saving it again changes nothing. A deleted image cannot be saved. */
    async saveImage(rawImageId: string, rawUserId: string): Promise<SaveOutcome> {
      const imageId = parseImageId(rawImageId, 'imageId');
      const userId = parseUserId(rawUserId);

      const [image] = await images.findByIds([imageId]);
      if (!image || image.deleted_at) throw notFound(`No image with id ${imageId}`);
      const created = await repo.insertSave(imageId, userId);
      if (created) onEngagement('saves', null);
      return { image, created };
    },
  };
}
export type FeedbackService = ReturnType<typeof createFeedbackService>;
