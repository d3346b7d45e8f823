import type { Logger, RootLogger } from '../../search-cluster/src/index.ts';
import type { ApiKeysService } from './auth/api-keys.service.ts';
import type { AuthPolicy, Caller } from './auth/roles.ts';
import type { BlobStore } from './blobs/blob-store.ts';
import type { Cache } from './cache/cache.ts';
import type { ClusterClient } from './cluster/cluster.client.ts';
import type { Config } from './config/config.ts';
import type { Database } from './db/database.ts';
import type { Encoder } from './encoder/index.ts';
import type { FeedbackServices } from './feedback/create-feedback-services.ts';
import type { JobsGraph } from './graph/jobs.ts';
import type { ImageLoaders } from './images/images.loaders.ts';
import type { IndexingWorker } from './indexing/indexing.worker.ts';
import type { LifecycleService } from './lifecycle/lifecycle.service.ts';
import type { ReindexRunner } from './lifecycle/reindex.runner.ts';
import type { Serving } from './lifecycle/serving.ts';
import type { RateLimits } from './limits/rate-limits.ts';
import type { Metrics } from './metrics/metrics.ts';
import type { ModerationService } from './moderation/moderation.service.ts';
import type { SafetyEpoch } from './search/safety-epoch.ts';
import type { SearchService } from './search/search.service.ts';
import type { UploadService } from './upload/upload.service.ts';

/** Process-wide dependencies, built once at start (see services.ts). */
export interface Services extends FeedbackServices {
  config: Config;
  /** The process's root logger; requests and components take children. */
  logger: RootLogger;
  db: Database;
  cache: Cache;
  blobs: BlobStore;
  apiKeys: ApiKeysService;
  upload: UploadService;
  policy: AuthPolicy;
  encoder: Encoder;
  metrics: Metrics;
  cluster: ClusterClient;
  safetyEpoch: SafetyEpoch;
  search: SearchService;
  moderation: ModerationService;
  /** Per-caller request and fetch budgets. */
  rateLimits: RateLimits;
  /** Background jobs: reports, schedule, rebuilds, canary, drift (graph/jobs.ts). */
  jobs: JobsGraph;
  /** A worker over these services (loads the safety models on first use). */
  createWorker(): Promise<IndexingWorker>;
  /** Which model version serves each query. */
  serving: Serving;
  /** Model versions: re-index, gate, promote, rollback, traffic slice, golden queries. */
  lifecycle: LifecycleService;
  /** This process's shadow re-index runner (started with the in-process worker). */
  reindex: ReindexRunner;
  /** The in-process worker, when the configuration runs one. */
  worker: IndexingWorker | null;
  /** Absolute URL a client can GET the image bytes from. */
  blobUrl(storageUrl: string): string;
  /** Stops the worker and closes what createServices opened (not what the caller passed in). */
  close(): Promise<void>;
}

/** Per-request state: the caller and fresh DataLoaders. */
export interface RequestContext {
  request: Request;
  caller: Caller;
  loaders: ImageLoaders;
  /** The request's child logger (carries `requestId`). */
  log: Logger;
  services: Services;
}
