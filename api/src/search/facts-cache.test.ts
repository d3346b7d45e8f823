import { describe, expect, it } from 'vitest';
import { createFactsCache } from './facts-cache.ts';
import type { CandidateFacts } from './search.repository.ts';

const facts = (id: string): CandidateFacts => ({
  id,
  status: 'INDEXED',
  deleted_at: null,
  safety_score: 0.9,
  flagged: false,
  created_ms: 0,
  stats: null,
  display: {
    storage_url: `u/${id}`,
    mime_type: 'image/png',
    byte_size: 1,
    width: 1,
    height: 1,
    uploader_id: 'u',
    sha256: 'x',
    created_at: new Date(0),
    tags: [],
  },
});
const scored = (...ids: number[]) => ids.map((id) => ({ id: BigInt(id), score: 0.5 }));

describe('the search facts cache', () => {
  it('is off at a TTL of 0', () => {
    expect(createFactsCache({ ttlMs: 0, maxEntries: 10 })).toBeNull();
  });

  it('answers only when every candidate is known; a candidate with no row is known as absent', () => {
    const cache = createFactsCache({ ttlMs: 60_000, maxEntries: 10 })!;
    expect(cache.lookup(scored(1))).toBeNull();
    // 3 was a candidate the statement found no row for
    cache.store(scored(1, 2, 3), [facts('1'), facts('2')]);
    const known = cache.lookup(scored(2, 3, 1))!;
    expect(known.map((f) => f?.id ?? null)).toEqual(['2', null, '1']);
    // display fields are the page's, not the cache's
    expect(known[0]!.display).toBeNull();
    expect(cache.lookup(scored(1, 4))).toBeNull();
    cache.forget(['2']);
    expect(cache.lookup(scored(1, 2))).toBeNull();
    expect(cache.lookup(scored(1, 3))).not.toBeNull();
  });

  it('keeps at most maxEntries, and an entry past its TTL is unknown', async () => {
    const bounded = createFactsCache({ ttlMs: 60_000, maxEntries: 2 })!;
    bounded.store(scored(1, 2, 3), [facts('1'), facts('2'), facts('3')]);
    expect(bounded.size).toBe(2);
    expect(bounded.lookup(scored(1))).toBeNull();
    const brief = createFactsCache({ ttlMs: 5, maxEntries: 10 })!;
    brief.store(scored(1), [facts('1')]);
    await new Promise((resolve) => setTimeout(resolve, 25));
    expect(brief.lookup(scored(1))).toBeNull();
  });
});
