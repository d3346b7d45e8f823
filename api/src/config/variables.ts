import {
  commonVariables,
  DEFAULT_SHARD_DEADLINE_MS,
  defineEnv,
  env,
  parseShardsSetting,
  portVariable,
  shardAuthTokenVariable,
} from '../../../search-cluster/src/index.ts';
import type { ExecutionProvider } from '../encoder/onnx-session.ts';
import { isModelPath, MODELS } from '../encoder/registry.ts';

// Every variable the API's processes read, each defined once; config.ts assembles them per
// process kind and `npm run config:docs` prints the README table from the same objects.

const EXECUTION_PROVIDERS = ['cpu', 'cuda'] as const satisfies readonly ExecutionProvider[];

/** Items separated by commas or white space. */
const commaList = (raw: string) => raw.split(/[\s,]+/).filter(Boolean);

const shardsSetting = (raw: string) => {
  try {
    return parseShardsSetting(raw);
  } catch {
    return undefined;
  }
};

/** Where the data lives and how the process logs and stops: every process kind. */
export const baseVariables = defineEnv({
  DATA_DIR: env.custom((raw) => raw, './data', {
    expected: 'a directory path',
    doc: 'embedded database, local blobs, shard snapshots, models',
  }),
  ...commonVariables,
});

/** The model, the shards, the stores: what the API and the worker share. */
export const coreVariables = defineEnv({
  PIXELFIND_MODE: env.oneOf(['single', 'cluster'] as const, {
    default: 'single',
    doc: '`single` or `cluster`',
  }),
  PIXELFIND_CLUSTER_INCOMPLETE_OK: env.string({
    doc: 'cluster mode without `DATABASE_URL`, `REDIS_URL` or `SHARDS` refuses to start unless this gives the reason',
  }),
  REDIS_URL: env.url({
    protocols: ['redis', 'rediss'],
    defaultText: 'unset: in-process cache',
    doc: 'Redis connection string',
  }),
  REDIS_KEY_PREFIX: env.custom((raw) => raw, 'pf:', {
    expected: 'a key prefix',
    doc: 'prefix of every cache key in Redis, so clusters can share one (rate limits: `RATE_LIMIT_PREFIX`)',
  }),
  S3_BUCKET: env.string({
    defaultText: 'unset: local blobs in `DATA_DIR/blobs`',
    doc: 'S3-compatible blob store bucket',
  }),
  S3_REGION: env.custom((raw) => raw, 'us-east-1', { expected: 'a region name', doc: 'S3 region' }),
  S3_ENDPOINT: env.httpUrl({ doc: 'S3 endpoint (MinIO, R2, ...)' }),
  S3_ACCESS_KEY_ID: env.string({ doc: 'S3 access key id', secret: true }),
  S3_SECRET_ACCESS_KEY: env.string({ doc: 'S3 secret key', secret: true }),
  S3_PUBLIC_BASE_URL: env.httpUrl({
    defaultText: 'unset: blobs are served through the API',
    doc: 'public base URL of the bucket',
  }),
  PIXELFIND_MODEL: env.custom(
    (raw) => (raw in MODELS || isModelPath(raw) ? raw : undefined),
    null as string | null,
    {
      expected: `one of ${Object.keys(MODELS).join(', ')}, or a model directory path (holding pixelfind-model.json)`,
      defaultText: 'the real ViT-B/32 when present, else `tiny-clip-v1`',
      doc: 'model: a built-in model version or a model directory (see `docs/models.md`)',
    },
  ),
  MODELS_DIR: env.string({ defaultText: '`DATA_DIR/models`', doc: 'where downloaded models live' }),
  PIXELFIND_EXECUTION_PROVIDER: env.oneOf(EXECUTION_PROVIDERS, {
    default: 'cpu',
    doc: 'onnxruntime execution provider',
  }),
  PIXELFIND_ONNX_THREADS: env.optionalInt({
    min: 1,
    max: 256,
    defaultText: 'min(4, cores)',
    doc: 'threads per model call',
  }),
  PIXELFIND_ONNX_SPIN: env.bool({ defaultText: '`false`', doc: 'let idle onnxruntime threads spin' }),
  SHARDS: env.custom(shardsSetting, null, {
    expected:
      'a shard count (1-1024) or http:// shard URLs: "url|url,url" (comma between shards, | between replicas)',
    defaultText: 'unset: `SHARD_COUNT` in-process shards',
    doc: 'shards: a count of in-process shards, or remote shard replicas `url|url,url`',
  }),
  SHARD_COUNT: env.int({
    default: 2,
    min: 1,
    max: 1024,
    doc: 'in-process shard count when `SHARDS` is unset',
  }),
  SHARD_AUTH_TOKEN: shardAuthTokenVariable,
  SHARD_DEADLINE_MS: env.int({
    default: DEFAULT_SHARD_DEADLINE_MS,
    min: 1,
    max: 60_000,
    doc: 'per-shard search deadline; a late shard makes the answer `partial`',
  }),
  SAFETY_THRESHOLD: env.number({
    default: 0.5,
    min: 0,
    max: 1,
    doc: 'uploads scoring under it are REJECTED; stored scores under it never show',
  }),
  INDEXER_BATCH_SIZE: env.int({ default: 16, min: 1, max: 1024, doc: 'images claimed and encoded together' }),
  INDEXER_LEASE_SECONDS: env.int({
    default: 30,
    min: 1,
    max: 86_400,
    doc: "job lease; a killed worker's jobs return to the queue after it",
  }),
  INDEXER_MAX_ATTEMPTS: env.int({ default: 5, min: 1, max: 100, doc: 'attempts before an image is FAILED' }),
  LIFECYCLE_AUTO_REINDEX: env.bool({
    defaultText: 'true in single mode',
    doc: '`PIXELFIND_MODEL` naming a model that is not the active one starts its re-index, promoted when the gate passes (docs/model-lifecycle.md)',
  }),
  LIFECYCLE_POLL_MS: env.int({
    default: 1000,
    min: 50,
    max: 60_000,
    doc: 'how often a process re-reads which model version serves (another process promoted)',
  }),
  LIFECYCLE_GOLDEN_RATIO: env.number({
    default: 0.99,
    min: 0,
    max: 2,
    doc: "promotion gate: golden recall@10 must reach this fraction of the active version's",
  }),
  LIFECYCLE_MIN_ANN_RECALL: env.number({
    default: 0.95,
    min: 0,
    max: 1,
    doc: 'promotion gate: ANN recall@10 of the new index, text and image queries apart',
  }),
  LIFECYCLE_ROLLBACK_WINDOW_SECONDS: env.int({
    default: 86_400,
    min: 0,
    doc: 'how long the PREVIOUS version stays warm for rollback before it is retired',
  }),
  LIFECYCLE_DROP_RETIRED_EMBEDDINGS: env.bool({
    defaultText: '`false`',
    doc: "delete a retired version's vectors of record (kept by default: a later re-index is then still a re-index)",
  }),
  REINDEX_BATCH_SIZE: env.int({
    default: 16,
    min: 1,
    max: 1024,
    doc: 'images re-embedded per re-index batch; a fresh upload waits behind at most one batch',
  }),
  REINDEX_MAX_YIELD_MS: env.int({
    default: 2000,
    min: 0,
    max: 600_000,
    doc: 'longest the re-index pauses for queued uploads before its next batch',
  }),
});

/** The HTTP server's own settings. */
export const httpVariables = defineEnv({
  PORT: portVariable(4000),
  HOST: env.string({ defaultText: '`127.0.0.1` (single), `0.0.0.0` (cluster)', doc: 'listen address' }),
  PUBLIC_URL: env.httpUrl({
    defaultText: '`http://127.0.0.1:$PORT`',
    doc: 'base of blob URLs served through the API',
  }),
  ALLOW_ANONYMOUS_UPLOADS: env.bool({
    defaultText: 'true only in single mode on a loopback address',
    doc: 'let callers without a key upload',
  }),
  UPLOAD_MAX_BYTES: env.int({
    default: 25 * 1024 * 1024,
    min: 1,
    defaultText: '`26214400` (25 MiB)',
    doc: 'largest accepted upload',
  }),
  UPLOAD_MAX_PIXELS: env.int({
    default: 50_000_000,
    min: 1,
    doc: 'largest accepted width x height (decompression bombs)',
  }),
  SEARCH_TOP_K: env.int({ default: 100, min: 100, max: 500, doc: 'candidates asked of the shards' }),
  RANKER_CONFIG: env.string({
    defaultText: 'built-in `r1`',
    doc: 'JSON file: `{ "version", "weights": { "similarity", "engagement", "recency" }, "recencyHalfLifeDays" }`',
  }),
  EMBEDDING_CACHE_TTL_SECONDS: env.int({
    default: 86_400,
    min: 0,
    doc: 'how long a query embedding stays cached',
  }),
  SEARCH_FACTS_CACHE_SECONDS: env.int({
    default: 30,
    min: 0,
    max: 3600,
    doc: "how long a search candidate's gate and ranking facts choose pages without being read again (0: off; the page is gated in Postgres either way)",
  }),
  SEARCH_FACTS_CACHE_ENTRIES: env.int({
    default: 200_000,
    min: 1,
    max: 10_000_000,
    doc: 'candidates whose facts are cached (about 200 bytes each)',
  }),
  IMAGE_FETCH_ALLOW_HOSTS: env.custom(commaList, [] as string[], {
    expected: 'host names separated by commas',
    defaultText: 'empty',
    doc: '`imageUrl` hosts allowed although they resolve to private addresses',
  }),
  INDEXER_IN_PROCESS: env.bool({
    defaultText: 'true in single mode',
    doc: 'run the indexing worker inside the API',
  }),
  EDGE_SIGNING_KEY: env.string({
    doc: 'HMAC key shared with the edge Worker (embedding headers)',
    secret: true,
  }),
  SHUTDOWN_UNREADY_MS: env.int({
    default: 0,
    min: 0,
    max: 600_000,
    doc: 'on SIGTERM/SIGINT, how long `/readyz` answers 503 while requests are still accepted (load balancer deregistration), before the listener closes',
  }),
  STATS_EVERY_MS: env.int({
    default: 5000,
    min: 100,
    max: 3_600_000,
    doc: 'how often image_stats folds in impressions, clicks and saves',
  }),
});

/** The worker process's own HTTP listener (`/healthz`, `/readyz`, `/metrics`). */
export const workerVariables = defineEnv({
  WORKER_PORT: env.int({
    default: 4100,
    min: 0,
    max: 65_535,
    doc: "the worker's `/healthz`, `/readyz` and `/metrics` port (0: any free port); it listens on `HOST` and guards `/metrics` with `METRICS_TOKEN` as the API does",
  }),
});

/** What one request may cost the API: GraphQL limits, bodies, timeouts, rate limits. */
export const limitVariables = defineEnv({
  GRAPHQL_MAX_TOKENS: env.int({ default: 2000, min: 100, doc: 'lexer tokens per GraphQL document' }),
  GRAPHQL_MAX_DEPTH: env.int({ default: 12, min: 3, max: 1000, doc: 'selection depth per operation' }),
  GRAPHQL_MAX_ALIASES: env.int({ default: 30, min: 0, doc: 'aliased fields per operation' }),
  GRAPHQL_MAX_DIRECTIVES: env.int({ default: 20, min: 0, doc: 'directives per document' }),
  GRAPHQL_MAX_COST: env.int({ default: 5000, min: 100, doc: 'graphql-armor cost per operation' }),
  GRAPHQL_MAX_FIELDS: env.int({
    default: 400,
    min: 50,
    doc: 'field selections per document, fragments expanded',
  }),
  GRAPHQL_MAX_SEARCHES: env.int({ default: 3, min: 1, doc: '`search` fields per document' }),
  MAX_JSON_BODY_BYTES: env.int({
    default: 64 * 1024,
    min: 1024,
    defaultText: '`65536` (64 KiB)',
    doc: 'largest body of a non-multipart request',
  }),
  HTTP_REQUEST_TIMEOUT_MS: env.int({
    default: 120_000,
    min: 1000,
    doc: 'the whole request (headers and body) must arrive within it',
  }),
  HTTP_HEADERS_TIMEOUT_MS: env.int({ default: 10_000, min: 500, doc: 'the headers must arrive within it' }),
  HTTP_MIN_BODY_BYTES_PER_SECOND: env.int({
    default: 4096,
    min: 0,
    doc: 'a body slower than this after `HTTP_BODY_GRACE_MS` is cut off (0: off)',
  }),
  HTTP_BODY_GRACE_MS: env.int({
    default: 5000,
    min: 0,
    doc: 'time a body may take before `HTTP_MIN_BODY_BYTES_PER_SECOND` applies',
  }),
  RATE_LIMIT_WINDOW_SECONDS: env.int({
    default: 60,
    min: 1,
    doc: 'window of every request budget (Redis when `REDIS_URL` is set)',
  }),
  RATE_LIMIT_PER_ADDRESS: env.int({
    default: 1200,
    min: 0,
    doc: 'requests per client address per window (0: off)',
  }),
  RATE_LIMIT_PER_KEY: env.int({ default: 6000, min: 0, doc: 'requests per API key per window (0: off)' }),
  IMAGE_FETCHES_PER_CALLER: env.int({
    default: 30,
    min: 0,
    doc: 'outbound `imageUrl` fetches per caller per window (0: off)',
  }),
  RATE_LIMIT_EXEMPT_LOOPBACK: env.bool({
    defaultText: 'true in single mode',
    doc: 'loopback clients skip the address budget',
  }),
  RATE_LIMIT_TRUST_FORWARDED_FOR: env.bool({
    defaultText: '`false`',
    doc: 'take the client address from the last `X-Forwarded-For` hop (only behind a proxy that appends it)',
  }),
  RATE_LIMIT_PREFIX: env.custom((raw) => raw, 'pf:rl:', {
    expected: 'a key prefix',
    doc: 'Redis key prefix of the budgets',
  }),
});

/** What the API shows about itself and to which browsers. */
export const surfaceVariables = defineEnv({
  CORS_ORIGINS: env.custom(commaList, [] as string[], {
    expected: 'origins separated by commas',
    defaultText: "`PUBLIC_URL`'s origin, plus loopback origins in single mode",
    doc: 'browser origins allowed to call with credentials',
  }),
  GRAPHQL_INTROSPECTION: env.bool({
    defaultText: 'true in single mode',
    doc: 'schema introspection',
  }),
  GRAPHIQL: env.bool({ defaultText: 'true in single mode', doc: 'GraphiQL at `GET /graphql`' }),
  GRAPHQL_FIELD_SUGGESTIONS: env.bool({
    defaultText: 'true in single mode',
    doc: '"did you mean" suggestions in validation errors',
  }),
  METRICS_TOKEN: env.string({
    defaultText: 'unset: `/metrics` open in single mode, 404 in cluster mode',
    doc: 'bearer token `/metrics` requires',
    secret: true,
  }),
});

/** The `pixelfind` CLI (flags win: `--url`, `--key`). */
export const cliVariables = defineEnv({
  PIXELFIND_URL: env.httpUrl({
    defaultText: '`http://127.0.0.1:4000`',
    doc: 'where the running server answers (`--url`)',
  }),
  PIXELFIND_API_KEY: env.custom((raw) => raw.trim() || undefined, null as string | null, {
    expected: 'an API key',
    defaultText: 'unset: anonymous',
    doc: 'the API key the CLI sends, an admin key for `keys` (`--key`)',
    secret: true,
  }),
});

/** `npm run model:download`. */
export const downloadVariables = defineEnv({
  HF_ENDPOINT: env.httpUrl({
    defaultText: '`https://huggingface.co`',
    doc: 'Hugging Face hub or a mirror (`npm run model:download`)',
  }),
  HF_TOKEN: env.string({ doc: 'token for gated or private repos (`npm run model:download`)', secret: true }),
});

export { jobVariables } from './job-variables.ts';
