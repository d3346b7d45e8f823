import { FaissIndex } from '../faiss/faiss-index.ts';
import { MAX_K } from '../faiss/options.ts';
import type { VectorIndexFactory } from './vector-index.ts';

/** Real FAISS indexes through the native addon (loaded on first use). */
export const faissFactory: VectorIndexFactory = {
  create: (dimension, factory) => FaissIndex.create(dimension, factory),
  read: (path) => FaissIndex.read(path),
};

/** Most candidates one native search may return per query. */
export const NATIVE_MAX_K = MAX_K;
