import type { QueryLogEntry } from '../feedback/query-log.ts';

/** What search needs from the encoder, the shard router and the query log. */

export interface QueryEncoder {
  readonly modelVersion: string;
  readonly dimension: number;
  /** the model's manifest, when it has one: its similarity floor is the default relevance floor */
  readonly entry?: { similarityFloor: number; adaptiveMargin: number };
  encodeText(text: string): Promise<Float32Array>;
  encodeImage(image: Buffer): Promise<Float32Array>;
}

export interface VectorSearcher {
  search(
    modelVersion: string,
    query: Float32Array,
    k: number,
    options?: { allowedIds?: bigint[] },
  ): Promise<{ hits: { id: bigint; score: number }[]; partial: boolean }>;
}

export interface QueryLogSink {
  record(entry: QueryLogEntry): void;
}
