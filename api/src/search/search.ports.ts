/** What search needs from the encoder, the shard router and the query log. */

export interface QueryEncoder {
  readonly modelVersion: string;
  readonly dimension: number;
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

export interface QueryLogEntry {
  id: string;
  queryText: string | null;
  imageRef: string | null;
  fusion: string | null;
  textWeight: number | null;
  filters: Record<string, unknown>;
  resultIds: string[];
  modelVersion: string;
  rankerVersion: string;
  latencyMs: number;
  partial: boolean;
  apiKeyId: string | null;
  createdAt: Date;
}

export interface QueryLogSink {
  record(entry: QueryLogEntry): void;
}
