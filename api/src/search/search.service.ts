import { randomUUID } from 'node:crypto';
import type { Caller } from '../auth/roles.ts';
import type { Cache } from '../cache/cache.ts';
import { embeddingCacheKey } from '../edge-trust/protocol.ts';
import type { EdgeChannel } from '../edge-trust/use-edge-trust.ts';
import { AppError, notFound } from '../errors.ts';
import { DEFAULT_ENGAGEMENT_PRIOR } from '../feedback/engagement.ts';
import type { ImageRecord } from '../images/image.types.ts';
import type { ImageLoaders } from '../images/images.loaders.ts';
import { inspectImage } from '../images/inspect-image.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { FactsCache } from './facts-cache.ts';
import { createHydrateStage, rankCandidates } from './hydrate-stage.ts';
import type { RankerConfig, Signals } from './ranker.ts';
import { manifestRelevance, type RelevanceCut, type RelevancePolicy } from './relevance.ts';
import type { SafetyEpoch } from './safety-epoch.ts';
import type { QueryEncoder, QueryLogSink, VectorSearcher } from './search.ports.ts';
import type { PagePlan, SearchRepository } from './search.repository.ts';
import { MAX_OFFSET, parseSearchInput, type RawSearchInput, type SearchInput } from './search-input.ts';
import { pageRecords } from './search-page.ts';
import { bufferToVector, fuseEarly, fuseLate, type ScoredId, vectorToBuffer } from './vectors.ts';

export interface SearchOptions {
  /** Candidates asked of the shards (100-500). */
  topK: number;
  /** Images whose stored safety score is under this never appear. Default 0.5. */
  safetyThreshold: number;
  ranker: RankerConfig;
  /** Query embedding cache TTL. Default 1 day. */
  embeddingTtlSeconds: number;
  /** Largest label allow-list handed to the shards. */
  maxAllowedIds: number;
  imageLimits: { maxBytes: number; maxPixels: number };
}

export interface SearchHit {
  image: ImageRecord;
  score: number;
  similarity: number;
  signals: Signals;
}

export interface SearchOutcome {
  queryId: string;
  modelVersion: string;
  partial: boolean;
  tookMs: number;
  hits: SearchHit[];
  /** More admitted results follow this page (within the offset cap). */
  hasNextPage: boolean;
  /** The offset of the next page; null on the last one. */
  nextOffset: number | null;
  /**
   * True when no image reached the relevance cut: the library holds nothing like the query (or
   * nothing the filters allow). Then `hits` is empty, whatever the page.
   */
  nothingRelevant: boolean;
  /** The similarity a hit needed and why (relevance.ts). */
  relevance: RelevanceCut;
  /** Per-stage milliseconds, for metrics and the search benchmark. */
  stages: { encode: number; fanout: number; hydrate: number; rerank: number };
  /** The text embedding when one was computed here (the edge may cache it). */
  textEmbedding: Float32Array | null;
  /** Where the text embedding came from: the edge's signed header, the cache, or the encoder. */
  embeddingSource: 'edge' | 'cache' | 'encoder' | null;
}

/** Picks the model version a query runs on; called once per query. */
export type VersionResolver = (callerKey: string | null) => { modelVersion: string; encoder: QueryEncoder };

export interface SearchDeps {
  repository: SearchRepository;
  cache: Cache;
  /** The encoder when one version serves everything (tests); `versions` wins when given. */
  encoder: QueryEncoder;
  /** The lifecycle's per-query choice (active version, or a traffic slice). Default: `encoder`. */
  versions?: VersionResolver;
  searcher: VectorSearcher;
  safetyEpoch: SafetyEpoch;
  queryLog: QueryLogSink;
  fetchImage: (url: string) => Promise<Buffer>;
  options: SearchOptions;
  /**
   * Recent candidates' gate and ranking facts (facts-cache.ts): when every candidate is known,
   * Postgres reads and gates only the page. None: every search reads all its candidates.
   */
  factsCache?: FactsCache | null;
  /** Where each search's stage timings, partial answers and embedding sources are counted. */
  metrics?: Pick<Metrics, 'searchStage' | 'searches' | 'embeddingCache' | 'engagement' | 'hydratePath'>;
  /** Told the best similarity among each search's admitted candidates (drift, api/src/quality/drift.ts). */
  onTopSimilarity?: (modelVersion: string, queryKind: 'text' | 'image' | 'both', similarity: number) => void;
  /**
   * The relevance floor per model version. Default: the manifest's (the encoder's own when it
   * has one, else the shipped manifest of that version); the lifecycle's calibrated floor plugs in here.
   */
  relevance?: RelevancePolicy;
}

const unavailable = (cause: unknown) =>
  cause instanceof AppError
    ? cause
    : new AppError('SERVICE_UNAVAILABLE', 'Search is unavailable: the image records cannot be read', {
        http: { status: 503, headers: { 'retry-after': '5' } },
      });

/** encode -> fan out -> hydrate and gate (one statement) -> re-rank -> page -> log (asynchronously). */
export function createSearchService(deps: SearchDeps) {
  const { options } = deps;
  const repo = deps.repository;
  const resolveVersion: VersionResolver =
    deps.versions ?? (() => ({ modelVersion: deps.encoder.modelVersion, encoder: deps.encoder }));
  const { encoder: configured } = deps;
  const relevance =
    deps.relevance ??
    manifestRelevance(configured.entry ? { [configured.modelVersion]: configured.entry } : {});

  // Every helper takes the query's encoder: the version is resolved once per query and carried
  // through encoding, cache keys, the shard search and the log row, never read again midway.
  async function textVector(
    encoder: QueryEncoder,
    text: string,
    trusted: Float32Array | null,
  ): Promise<{ vector: Float32Array; source: 'edge' | 'cache' | 'encoder' }> {
    if (trusted && trusted.length === encoder.dimension) return { vector: trusted, source: 'edge' };
    const key = embeddingCacheKey(encoder.modelVersion, text);
    const cached = await deps.cache.getBuffer(key).catch(() => null);
    if (cached && cached.byteLength === encoder.dimension * 4)
      return { vector: bufferToVector(cached), source: 'cache' };
    const vector = await encoder.encodeText(text);
    void deps.cache.setBuffer(key, vectorToBuffer(vector), options.embeddingTtlSeconds).catch(() => {});
    return { vector, source: 'encoder' };
  }

  async function imageVector(
    encoder: QueryEncoder,
    input: SearchInput,
  ): Promise<{ vector: Float32Array; ref: string } | null> {
    if (input.imageId) {
      const vector = await repo.embeddingOf(input.imageId, encoder.modelVersion);
      if (!vector) throw notFound(`No indexed image with id ${input.imageId}`); // flagged, rejected, deleted: same answer
      return { vector, ref: `image:${input.imageId}` };
    }
    let bytes: Buffer | null = null;
    let ref = '';
    if (input.imageUrl) {
      bytes = await deps.fetchImage(input.imageUrl);
      ref = `url:${input.imageUrl}`;
    } else if (input.image) {
      if (input.image.size > options.imageLimits.maxBytes) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `Expected an image of at most ${options.imageLimits.maxBytes} bytes`,
        );
      }
      bytes = Buffer.from(await input.image.arrayBuffer());
      ref = 'upload';
    }
    if (!bytes) return null;
    const inspected = await inspectImage(bytes, options.imageLimits);
    return {
      vector: await encoder.encodeImage(bytes),
      ref: ref === 'upload' ? `upload:${inspected.sha256}` : ref,
    };
  }

  function recordMetrics(outcome: SearchOutcome): void {
    const { metrics } = deps;
    if (!metrics) return;
    for (const [stage, ms] of Object.entries(outcome.stages))
      metrics.searchStage.observe({ stage }, ms / 1000);
    metrics.searchStage.observe({ stage: 'total' }, outcome.tookMs / 1000);
    metrics.searches.inc({ partial: String(outcome.partial) });
    metrics.engagement.searches.inc({
      model_version: outcome.modelVersion,
      ranker_version: options.ranker.version,
    });
    if (outcome.embeddingSource) metrics.embeddingCache.inc({ source: outcome.embeddingSource });
  }

  const hydrate = createHydrateStage({
    repository: repo,
    factsCache: deps.factsCache ?? null,
    metrics: deps.metrics,
  });

  return {
    async search(
      raw: RawSearchInput,
      ctx: {
        loaders: ImageLoaders;
        caller: Caller;
        /** The edge's side of the request (GraphQL and REST pass it), if any. */
        edge?: EdgeChannel;
        /** A text embedding already verified by the caller; wins over the edge's. */
        trustedTextEmbedding?: Float32Array | null;
        /** Who runs the query (feedback's callerRefOf), logged so only they can click its results. */
        callerRef?: string | null;
      },
    ): Promise<SearchOutcome> {
      const started = performance.now();
      const input = parseSearchInput(raw);
      const { encoder } = resolveVersion(ctx.callerRef ?? ctx.caller.keyId ?? null);
      const rawText = raw.text ?? null;
      // a signed embedding from the edge's cache spares the text encoder
      const trusted =
        ctx.trustedTextEmbedding ??
        (rawText && ctx.edge
          ? ctx.edge.embeddingFor({
              modelVersion: encoder.modelVersion,
              text: rawText,
              dimensions: encoder.dimension,
            })
          : null);
      const need = input.offset + input.limit;
      const modelVersion = encoder.modelVersion;
      // asked now, answered while the query is encoded (the policy may read a store)
      const floorPromise =
        input.minSimilarity === null
          ? Promise.resolve(relevance.similarityFloorFor(modelVersion))
          : Promise.resolve(input.minSimilarity);
      // no unhandled rejection if encoding fails first
      floorPromise.catch(() => {});
      // over-fetch so that the gate and filters still leave a full page
      const k = Math.min(1000, Math.max(options.topK, need * 3));

      let mark = performance.now();
      const [textResult, image] = await Promise.all([
        input.text ? textVector(encoder, input.text, trusted) : null,
        imageVector(encoder, input),
      ]);
      const text = textResult?.vector ?? null;
      const encodeMs = performance.now() - mark;

      let allowedIds: bigint[] | undefined;
      if (input.labels.length > 0) {
        allowedIds = await repo.idsWithLabels(input.labels, options.maxAllowedIds);
        if (allowedIds.length === 0) allowedIds = [];
      }

      mark = performance.now();
      let candidates: ScoredId[] = [];
      let partial = false;
      if (allowedIds && allowedIds.length === 0) {
        candidates = [];
      } else if (text && image && input.fusion === 'LATE') {
        const [byText, byImage] = await Promise.all([
          deps.searcher.search(encoder.modelVersion, text, k, { allowedIds }),
          deps.searcher.search(encoder.modelVersion, image.vector, k, { allowedIds }),
        ]);
        partial = byText.partial || byImage.partial;
        candidates = fuseLate(byText.hits, byImage.hits, input.textWeight);
      } else {
        const query =
          text && image ? fuseEarly(text, image.vector, input.textWeight) : (text ?? image!.vector);
        const result = await deps.searcher.search(encoder.modelVersion, query, k, { allowedIds });
        partial = result.partial;
        candidates = result.hits;
      }
      const fanoutMs = performance.now() - mark;

      // hydrate in one round trip: every candidate's gate and ranking facts, the page's display
      // fields and tags, and the safety epoch, from one statement (search.repository.ts#pageOf)
      mark = performance.now();
      const now = Date.now();
      const cutInput = {
        requested: input.minSimilarity,
        floor: await floorPromise,
        margin: relevance.adaptiveMarginFor(modelVersion),
        adaptive: text !== null && image === null,
      };
      const plan: PagePlan = {
        safetyThreshold: options.safetyThreshold,
        ranker: options.ranker,
        prior: DEFAULT_ENGAGEMENT_PRIOR,
        now,
        cut: cutInput,
        offset: input.offset,
        limit: input.limit,
      };
      const read =
        candidates.length === 0
          ? null
          : await hydrate(candidates, plan).catch((error: unknown) => {
              // a row that could not be read cannot be gated: no answer rather than a wrong one
              throw unavailable(error);
            });
      if (read) deps.safetyEpoch.observe(read.epoch);
      const factsById = new Map(read?.candidates.map((facts) => [facts.id, facts]));
      const hydrateMs = performance.now() - mark;

      mark = performance.now();
      const { admitted, cut, relevant, ranked } = rankCandidates(
        candidates,
        candidates.map((c) => factsById.get(c.id.toString()) ?? null),
        plan,
      );
      const onPage = ranked.slice(input.offset, need);
      const records = await pageRecords(
        onPage.map((r) => r.facts),
        ctx.loaders,
        options.safetyThreshold,
      ).catch((error: unknown) => {
        throw unavailable(error);
      });
      const hits: SearchHit[] = [];
      onPage.forEach(({ facts: _facts, ...hit }, i) => {
        const record = records[i];
        if (record) hits.push({ ...hit, image: record });
      });
      // over-fetching (k >= 3 * need) means one more admitted result shows a next page
      const hasNextPage = ranked.length > need && need <= MAX_OFFSET;
      const rerankMs = performance.now() - mark;

      const tookMs = performance.now() - started;
      const queryId = randomUUID();
      deps.queryLog.record({
        id: queryId,
        queryText: input.text,
        imageRef: image?.ref ?? null,
        fusion: text && image ? input.fusion : null,
        textWeight: text && image ? input.textWeight : null,
        filters: input.labels.length ? { labels: input.labels } : {},
        resultIds: hits.map((h) => h.image.id),
        modelVersion: encoder.modelVersion,
        rankerVersion: options.ranker.version,
        latencyMs: tookMs,
        partial,
        apiKeyId: ctx.caller.keyId,
        callerRef: ctx.callerRef ?? null,
        createdAt: new Date(),
      });
      const outcome: SearchOutcome = {
        queryId,
        modelVersion: encoder.modelVersion,
        partial,
        tookMs,
        hits,
        hasNextPage,
        nextOffset: hasNextPage ? need : null,
        nothingRelevant: relevant.length === 0,
        relevance: cut,
        stages: { encode: encodeMs, fanout: fanoutMs, hydrate: hydrateMs, rerank: rerankMs },
        textEmbedding: text,
        embeddingSource: textResult?.source ?? null,
      };
      recordMetrics(outcome);
      if (admitted.length > 0 && deps.onTopSimilarity) {
        const top = Math.max(...admitted.map((a) => a.candidate.score));
        deps.onTopSimilarity(encoder.modelVersion, text && image ? 'both' : text ? 'text' : 'image', top);
      }
      if (rawText && !trusted && text) {
        ctx.edge?.offer({ modelVersion: encoder.modelVersion, text: rawText, embedding: text });
      }
      return outcome;
    },
  };
}
export type SearchService = ReturnType<typeof createSearchService>;
