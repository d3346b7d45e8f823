import { LRUCache } from 'lru-cache';
import type { CandidateFacts } from './search.repository.ts';
import type { ScoredId } from './vectors.ts';

/**
 * The gate and ranking facts of recent candidates (status, deletion, safety score, blocklist,
 * created_at, engagement counts), so that a search whose every candidate is known here reads
 * only its page from Postgres (search.repository.ts#gatedPageOf) instead of all its candidates.
 *
 * These facts only choose which candidates make the page. They never decide what is shown: the
 * page statement applies the safety gate to the page's rows again, at request time, and a page
 * row it does not admit (taken down, flagged, rejected since it was cached) sends the search
 * through the full statement. So an entry may lag by `ttlMs` in what it can cost (an image made
 * safe again stays off pages until its entry expires; engagement counts lag as image_stats
 * already does), never in what is shown.
 */
export interface FactsCache {
  /** Every candidate's cached facts (null entries: not in `images`), or null when one is unknown. */
  lookup(candidates: readonly ScoredId[]): (CandidateFacts | null)[] | null;
  /** What the full statement read of `candidates` (a candidate missing from `facts` is not in `images`). */
  store(candidates: readonly ScoredId[], facts: readonly CandidateFacts[]): void;
  /** Drops entries the page statement contradicted. */
  forget(ids: readonly string[]): void;
  readonly size: number;
}

export interface FactsCacheOptions {
  /** Entries kept; the least recently used go first. */
  maxEntries: number;
  /** How long an entry stays usable after the full statement read it; 0 disables the cache. */
  ttlMs: number;
}

/** A candidate the statement found no row for (gone from `images`): known, never admitted. */
const ABSENT = Symbol('absent');
type Entry = CandidateFacts | typeof ABSENT;

export function createFactsCache({ maxEntries, ttlMs }: FactsCacheOptions): FactsCache | null {
  if (ttlMs <= 0 || maxEntries <= 0) return null;
  // ttlAutopurge off: an expired entry is dropped when read, not by a timer per entry
  const entries = new LRUCache<string, Entry>({ max: maxEntries, ttl: ttlMs, updateAgeOnGet: false });
  return {
    lookup(candidates) {
      const out: (CandidateFacts | null)[] = new Array(candidates.length);
      for (let i = 0; i < candidates.length; i++) {
        const entry = entries.get(candidates[i]!.id.toString());
        if (entry === undefined) return null;
        out[i] = entry === ABSENT ? null : entry;
      }
      return out;
    },
    store(candidates, facts) {
      const found = new Map(facts.map((f) => [f.id, f]));
      for (const candidate of candidates) {
        const id = candidate.id.toString();
        const f = found.get(id);
        // display fields are the page's; the cache keeps only what chooses a page
        entries.set(id, f ? { ...f, display: null } : ABSENT);
      }
    },
    forget(ids) {
      for (const id of ids) entries.delete(id);
    },
    get size() {
      return entries.size;
    },
  };
}
