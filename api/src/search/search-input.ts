import { badInput } from '../errors.ts';
import { parseImageId } from '../images/image-id.ts';

export type Fusion = 'EARLY' | 'LATE';

export interface RawSearchInput {
  text?: string | null;
  imageUrl?: string | null;
  imageId?: string | number | null;
  image?: File | null;
  textWeight?: number | null;
  fusion?: Fusion | null;
  labels?: readonly string[] | null;
  limit?: number | null;
  offset?: number | null;
  minSimilarity?: number | null;
}

export interface SearchInput {
  text: string | null;
  imageUrl: string | null;
  imageId: string | null;
  image: File | null;
  /** alpha: the text side's weight when both modalities are given. */
  textWeight: number;
  fusion: Fusion;
  labels: string[];
  limit: number;
  offset: number;
  /** the only relevance cut when given (cosine, -1..1); null: the model version's floor and the adaptive cut */
  minSimilarity: number | null;
}

export const MAX_LIMIT = 100;
export const MAX_OFFSET = 1000;
export const MAX_LABELS = 10;

/** Check, default, normalise: a SearchInput the service can trust. */
export function parseSearchInput(raw: RawSearchInput): SearchInput {
  const text = raw.text == null ? null : raw.text;
  if (text !== null && text.trim().length === 0) throw badInput('Expected text to be non-empty when given');
  const imageSources = [raw.imageUrl, raw.imageId, raw.image].filter((v) => v != null && v !== '');
  if (imageSources.length > 1) throw badInput('Expected at most one of imageUrl, imageId and image');
  if (text === null && imageSources.length === 0) {
    throw badInput('Expected a query: text, an image (image, imageUrl or imageId), or both');
  }
  const textWeight = raw.textWeight ?? 0.5;
  if (!Number.isFinite(textWeight) || textWeight < 0 || textWeight > 1) {
    throw badInput(`Expected textWeight between 0 and 1 but received ${textWeight}`);
  }
  const limit = raw.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw badInput(`Expected limit between 1 and ${MAX_LIMIT} but received ${limit}`);
  }
  const offset = raw.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
    throw badInput(`Expected offset between 0 and ${MAX_OFFSET} but received ${offset}`);
  }
  const minSimilarity = raw.minSimilarity ?? null;
  if (
    minSimilarity !== null &&
    !(Number.isFinite(minSimilarity) && minSimilarity >= -1 && minSimilarity <= 1)
  ) {
    throw badInput(`Expected minSimilarity between -1 and 1 but received ${minSimilarity}`);
  }
  const labels = [...new Set((raw.labels ?? []).map((l) => l.trim().toLowerCase()))];
  if (labels.length > MAX_LABELS)
    throw badInput(`Expected at most ${MAX_LABELS} labels but received ${labels.length}`);
  if (labels.some((l) => l.length === 0 || l.length > 64))
    throw badInput('Expected labels of 1 to 64 characters');
  const imageUrl = raw.imageUrl ? raw.imageUrl.trim() : null;
  if (imageUrl !== null && imageUrl.length > 2048)
    throw badInput('Expected imageUrl of at most 2048 characters');
  return {
    text,
    imageUrl,
    imageId: raw.imageId == null || raw.imageId === '' ? null : parseImageId(String(raw.imageId), 'imageId'),
    image: raw.image ?? null,
    textWeight,
    fusion: raw.fusion ?? 'EARLY',
    labels,
    limit,
    offset,
    minSimilarity,
  };
}
