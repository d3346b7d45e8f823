/**
 * Shared fast state: query embeddings, API keys, counters. Redis in cluster
 * mode, a process-local map in single-node mode; callers never know which.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  getBuffer(key: string): Promise<Buffer | null>;
  /** ttlSeconds 0 keeps the value until deleted. */
  setBuffer(key: string, value: Buffer, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
