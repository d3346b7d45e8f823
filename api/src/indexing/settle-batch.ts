import type { LogSink } from '../../../search-cluster/src/index.ts';
import type { InTransaction } from '../db/unit-of-work.ts';
import { phashToSql } from '../images/phash.ts';
import type { ContentBlocklistRepository } from '../moderation/content-blocklist.repository.ts';
import type { ClaimedJob, IndexJobsRepository } from './index-jobs.repository.ts';
import type { ImageEmbedder, VectorWriter } from './indexing.ports.ts';
import type { ImageToIndex, IndexingRepository } from './indexing.repository.ts';

export type JobOutcome = 'indexed' | 'duplicate' | 'rejected' | 'skipped' | 'retry' | 'dead';

/** A job whose image is encoded: its vector, and its pHash and safety score (maybe still computing). */
export interface EncodedJob {
  job: ClaimedJob;
  image: ImageToIndex;
  bytes: Buffer;
  vector: Float32Array;
  phash: Promise<bigint | null>;
  safety: Promise<{ score: number }>;
}

type Embeddings = { modelVersion: string; vector: Float32Array }[];

export interface SettleDeps {
  owner: string;
  /** Images scoring under this are REJECTED and never indexed. */
  threshold: number;
  repositories: { jobs: IndexJobsRepository; images: IndexingRepository };
  transaction: InTransaction<{ jobs: IndexJobsRepository; images: IndexingRepository }>;
  blockedContent: ContentBlocklistRepository;
  embedder: Pick<ImageEmbedder, 'modelVersion' | 'tagImage'>;
  vectors: VectorWriter;
  log: LogSink;
  /** The ACTIVE model version: twins are looked up under it. */
  activeVersion(): string;
  /** The image's vector under every version being written (the ACTIVE one must succeed). */
  vectorsFor(image: ImageToIndex, bytes: Buffer, vector: Float32Array): Promise<Embeddings>;
  /** A job that failed: retried later, or dead. */
  fail(job: ClaimedJob, error: unknown): Promise<JobOutcome>;
  onIndexed?: (seconds: number) => void;
}

/** What the batch decided for each job, before anything is written. */
interface Decisions {
  blocked: { job: ClaimedJob; imageId: string; phash: string | null; by: string }[];
  duplicates: { job: ClaimedJob; imageId: string; canonicalId: string }[];
  rejected: { job: ClaimedJob; imageId: string; safetyScore: number; safetyDetail: object }[];
  indexed: {
    job: ClaimedJob;
    imageId: string;
    embeddings: Embeddings;
    tags: { label: string; confidence: number }[];
    safetyScore: number;
    safetyDetail: object;
  }[];
  /** jobs that failed on their own (safety, tags, another version's encode) */
  failed: { job: ClaimedJob; error: unknown }[];
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 2000);

/**
 * Settles encoded jobs together: one statement for the blocklist checks, one for the twin
 * checks, one transaction for every job's record (four statements for the indexed ones,
 * whatever their number, and one per other outcome), the vectors to their shards, then one
 * statement that completes the indexed jobs. A batch whose checks or transaction fail settles
 * again one job at a time, so a job that cannot be written costs its batch-mates nothing.
 *
 * The jobs given together must have different bytes (sha256): the twin check reads the
 * database, so a copy of an image settles in a later call, after its original committed.
 */
export function createBatchSettler(deps: SettleDeps) {
  const { owner, threshold, transaction, log } = deps;
  const { images } = deps.repositories;

  async function decide(items: readonly EncodedJob[]): Promise<Decisions> {
    const phashes = await Promise.all(items.map((item) => item.phash));
    // blocked content never reaches the index: a copy promoted after its original was deleted,
    // or an upload that was queued before the flag
    const [blocked, twins] = await Promise.all([
      deps.blockedContent.matchMany(
        items.map(({ image }, i) => ({ sha256: image.sha256, phash: phashes[i]! })),
      ),
      images.indexedTwins(
        items.map(({ image }) => image),
        deps.activeVersion(),
      ),
    ]);
    const d: Decisions = { blocked: [], duplicates: [], rejected: [], indexed: [], failed: [] };
    for (const [i, { job, image, bytes, vector, safety }] of items.entries()) {
      const match = blocked[i];
      const twin = twins[i];
      if (match) {
        d.blocked.push({ job, imageId: image.id, phash: phashToSql(phashes[i]!), by: match.by });
      } else if (twin) {
        // skip: these exact bytes are already in the index under another id
        d.duplicates.push({ job, imageId: image.id, canonicalId: twin });
      } else {
        try {
          const score = await safety;
          if (score.score < threshold) {
            d.rejected.push({ job, imageId: image.id, safetyScore: score.score, safetyDetail: score });
            continue;
          }
          d.indexed.push({
            job,
            imageId: image.id,
            embeddings: await deps.vectorsFor(image, bytes, vector),
            tags: await deps.embedder.tagImage(vector),
            safetyScore: score.score,
            safetyDetail: score,
          });
        } catch (error) {
          d.failed.push({ job, error });
        }
      }
    }
    return d;
  }

  /**
   * The records first, then the shards: a shard rebuild reads the records, so a vector that
   * reached a hot tier before its row committed could be dropped by a rebuild that started in
   * between. Returns the seconds from upload to INDEXED of each indexed image still live.
   */
  function record(d: Decisions): Promise<Map<string, number>> {
    return transaction(async (tx) => {
      const seconds = await tx.images.markIndexed(deps.embedder.modelVersion, d.indexed);
      // after markIndexed: a duplicate takes its original's safety score as just written
      await tx.images.markDuplicates(d.duplicates);
      await tx.images.markRejected(d.rejected);
      await tx.images.markBlockedContent(d.blocked);
      await tx.jobs.complete(
        owner,
        [...d.blocked, ...d.duplicates, ...d.rejected].map((x) => x.job.id),
      );
      return seconds;
    });
  }

  /** After the commit: the images are what the records say, whatever the shards answer now. */
  async function publish(d: Decisions, seconds: Map<string, number>, outcomes: Map<string, JobOutcome>) {
    for (const x of d.blocked) outcomes.set(x.job.id, 'rejected');
    for (const x of d.duplicates) outcomes.set(x.job.id, 'duplicate');
    for (const x of d.rejected) outcomes.set(x.job.id, 'rejected');
    for (const { job, error } of d.failed) outcomes.set(job.id, await deps.fail(job, error));
    if (d.indexed.length === 0) return;
    // a shard that is down catches up from the embeddings table when it returns (refill by seq
    // on start, and the periodic catch-up of search-cluster/src/shard/catch-up.ts while it runs)
    const byVersion = new Map<string, { id: bigint; vector: Float32Array }[]>();
    for (const x of d.indexed) {
      for (const e of x.embeddings) {
        const list = byVersion.get(e.modelVersion) ?? [];
        list.push({ id: BigInt(x.imageId), vector: e.vector });
        byVersion.set(e.modelVersion, list);
      }
    }
    for (const [modelVersion, items] of byVersion) {
      await deps.vectors.upsert(modelVersion, items).catch((error: unknown) => {
        log.warn('shard write deferred to catch-up', {
          images: items.length,
          modelVersion,
          error: describe(error),
        });
      });
    }
    // the jobs complete only after the shards took the vectors; a crash in between re-runs
    // them, and every step is idempotent
    try {
      await deps.repositories.jobs.complete(
        owner,
        d.indexed.map((x) => x.job.id),
      );
    } catch (error) {
      for (const { job } of d.indexed) outcomes.set(job.id, await deps.fail(job, error));
      return;
    }
    for (const x of d.indexed) {
      outcomes.set(x.job.id, 'indexed');
      const s = seconds.get(x.imageId);
      if (s !== undefined) deps.onIndexed?.(s);
    }
  }

  /** Settles `items` (all with different bytes), setting each job's outcome. */
  return async function settle(
    items: readonly EncodedJob[],
    outcomes: Map<string, JobOutcome>,
  ): Promise<void> {
    if (items.length === 0) return;
    let decisions: Decisions;
    let seconds: Map<string, number>;
    try {
      decisions = await decide(items);
      seconds = await record(decisions);
    } catch (error) {
      if (items.length === 1) {
        outcomes.set(items[0]!.job.id, await deps.fail(items[0]!.job, error));
        return;
      }
      log.warn('batch settle failed, settling its jobs one at a time', {
        jobs: items.length,
        error: describe(error),
      });
      for (const item of items) await settle([item], outcomes);
      return;
    }
    await publish(decisions, seconds, outcomes);
  };
}
