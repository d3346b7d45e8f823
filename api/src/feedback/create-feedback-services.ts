import type { Database } from '../db/database.ts';
import { createImagesRepository } from '../images/images.repository.ts';
import { createFeedbackRepository } from './feedback.repository.ts';
import {
  createFeedbackService,
  type FeedbackService,
  type FeedbackServiceOptions,
} from './feedback.service.ts';
import { createQueryLog, type QueryLog, type QueryLogOptions } from './query-log.ts';

/** The fields feedback adds to `Services` (context.ts). */
export interface FeedbackServices {
  queryLog: QueryLog;
  feedback: FeedbackService;
}

export interface FeedbackServicesOptions {
  queryLog?: Omit<QueryLogOptions, 'db'>;
  /** See FeedbackServiceOptions.lateQueryWaitMs. Default 0 (single node). */
  lateQueryWaitMs?: number;
  /** See FeedbackServiceOptions.clicksPerMinute. Default 60. */
  clicksPerMinute?: number;
  /** See FeedbackServiceOptions.onEngagement. Default: nothing. */
  onEngagement?: FeedbackServiceOptions['onEngagement'];
}

/** The query log and the click/save service over one database. Close with `queryLog.close()`. */
export function createFeedbackServices(
  db: Database,
  options: FeedbackServicesOptions = {},
): FeedbackServices {
  const queryLog = createQueryLog({ db, ...options.queryLog });
  const feedback = createFeedbackService({
    repository: createFeedbackRepository(db),
    images: createImagesRepository(db),
    queryLog,
    lateQueryWaitMs: options.lateQueryWaitMs ?? 0,
    ...(options.clicksPerMinute !== undefined ? { clicksPerMinute: options.clicksPerMinute } : {}),
    ...(options.onEngagement ? { onEngagement: options.onEngagement } : {}),
  });
  return { queryLog, feedback };
}
