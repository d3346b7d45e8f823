/** What the indexing worker needs from the encoder, the safety scorer and the shards. */

export interface ImageEmbedder {
  readonly modelVersion: string;
  readonly dimension: number;
  encodeImages(images: Buffer[]): Promise<Float32Array[]>;
  tagImage(embedding: Float32Array): Promise<{ label: string; confidence: number }[]>;
}

export interface SafetyCheck {
  /** the embedding may be pending: the image-only part of the check starts without it */
  score(image: Buffer, embedding: Float32Array | Promise<Float32Array>): Promise<{ score: number }>;
}

export interface VectorWriter {
  upsert(modelVersion: string, items: { id: bigint; vector: Float32Array }[]): Promise<void>;
  remove(modelVersion: string, ids: bigint[]): Promise<void>;
}
