/**
 * The search cluster as the API sees it: one router, its configuration, the source-of-record
 * interface the API implements over Postgres, and the error type. Nothing here speaks HTTP.
 */

export { ClusterError, type ClusterErrorCode, isClusterError } from './errors.ts';
export {
  PostgresVectorSource,
  type SqlClient,
} from './rebuild/postgres-vector-source.ts';
export {
  MemoryVectorSource,
  type VectorChange,
  type VectorRecord,
  type VectorSource,
  type VectorSourceSnapshot,
} from './rebuild/vector-source.ts';
export { createRouter, parseShardsSetting, type RouterConfig } from './router/config.ts';
export type * from './router/router.types.ts';
export { syncPath, writeFileAtomic } from './runtime/atomic-write.ts';
export { type Partition, shardOf } from './shard/partition.ts';
export type { ModelVersionSpec } from './shard/shard.ts';
export type { Hit } from './shard/topk.ts';
export { MAX_K } from './shard/validate.ts';
export { dot, dotAt, normalize, normalizeRows } from './vector-math.ts';
