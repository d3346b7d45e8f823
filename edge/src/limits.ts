/** Longest query string accepted on GET; Cloudflare itself refuses URLs over 16 kB. */
export const MAX_QUERY_STRING_BYTES = 8 * 1024;
/** Largest JSON GraphQL body; persisted ids keep real requests far below it. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;
/** Largest GraphQL document sent in full. */
export const MAX_DOCUMENT_BYTES = 32 * 1024;
/** Largest search text the edge forwards or caches an embedding for. */
export const MAX_TEXT_BYTES = 2 * 1024;

/** A positive integer from a Workers var, or the fallback when unset or malformed. */
export function numberVar(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}
