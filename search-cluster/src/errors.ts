/**
 * Errors the search cluster raises on purpose. Each carries a stable `code`; the API maps codes to
 * its own (BAD_REQUEST -> BAD_USER_INPUT, SHARD_UNAVAILABLE -> SERVICE_UNAVAILABLE, ...). Anything
 * that is not a ClusterError is a fault.
 */
export type ClusterErrorCode =
  /** The caller sent something invalid (dimension, NaN, k, ids). Retrying will not help. */
  | 'BAD_REQUEST'
  /** No index exists for this model version on this shard or cluster. */
  | 'UNKNOWN_MODEL_VERSION'
  /** The shard is loading or rebuilding from nothing and cannot answer completely yet. */
  | 'SHARD_NOT_READY'
  /** No replica of a shard answered (writes) or every shard missed its deadline (searches). */
  | 'SHARD_UNAVAILABLE'
  /** A snapshot on disk failed its checksum or could not be parsed. */
  | 'SNAPSHOT_CORRUPT'
  /** A rebuild was asked for but the shard has no source of record configured. */
  | 'NO_SOURCE'
  /** The shard is shutting down. */
  | 'CLOSED'
  /** The call did not carry the shard servers' SHARD_AUTH_TOKEN. */
  | 'UNAUTHENTICATED'
  /** The cluster's configuration cannot do this (cluster partitioning over remote shards, ...). */
  | 'UNSUPPORTED'
  /** Cluster partitioning found no partition map and too few vectors of record to build one. */
  | 'NO_PARTITION_MAP';

export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClusterError';
    this.code = code;
  }
}

export const badRequest = (message: string) => new ClusterError('BAD_REQUEST', message);

export const unknownModelVersion = (modelVersion: string) =>
  new ClusterError('UNKNOWN_MODEL_VERSION', `Unknown model version "${modelVersion}"`);

export function isClusterError(error: unknown): error is ClusterError {
  return error instanceof ClusterError;
}

/** HTTP status the shard server answers with for each code (and the client reads back). */
export const HTTP_STATUS: Record<ClusterErrorCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_MODEL_VERSION: 404,
  SHARD_NOT_READY: 503,
  SHARD_UNAVAILABLE: 503,
  SNAPSHOT_CORRUPT: 500,
  NO_SOURCE: 409,
  CLOSED: 503,
  UNAUTHENTICATED: 401,
  UNSUPPORTED: 501,
  NO_PARTITION_MAP: 409,
};
